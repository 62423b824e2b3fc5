// An idle database, for walship and Litestream alike: the sidecar replicates to the audit server
// (sftp-server logging one line per request); the writer commits 50 transactions, the sidecar
// starts, 100 more at 50 tx/s, then nothing. Once the last is on the replica (and, in the full run,
// the level-1 compaction of those writes too, counted on its own), the SFTP requests the server
// logs and the sidecar's CPU seconds are counted over the idle window.
import path from 'node:path';
import { runLoadWriter } from '../../test/kit/writer.mjs';
import { sleep, waitFor } from '../../test/kit/wait.mjs';
import { maxTxidIn, waitForMarker } from '../lib/ltxscan.mjs';
import { now, round } from '../lib/stats.mjs';

const byType = (reqs) => {
  const out = {};
  for (const r of reqs) out[r.type] = (out[r.type] ?? 0) + 1;
  return out;
};

export async function idleScenario(b, { tool, idleMs, settle }) {
  const audit = b.audit;
  const arm = tool === 'walship' ? 'walship-default' : 'litestream-default';
  b.log(`idle (${tool}, ${arm}): SFTP requests and CPU over ${idleMs / 1000}s of an idle database`);
  const dir = await b.scenarioDir(`idle-${tool}`);
  const db = b.dbOf(dir);
  await runLoadWriter({ db, mode: 'init', warmup: 50, from: 1 }, 30_000);
  const markStart = await audit.mark();
  const s = await b.startSidecar(dir, arm, { server: audit });
  const l0 = b.l0Of(dir);
  if (!(await waitForMarker(b.dist, l0, 50, 30_000))) throw new Error(`idle (${tool}): the sidecar did not catch up:\n${s.tail(30)}`);
  const wr = await runLoadWriter({ db, mode: 'rate', rate: 50, durationMs: 2000, from: 51 }, 60_000);
  if (!(await waitForMarker(b.dist, l0, wr.lastN, 30_000))) throw new Error(`idle (${tool}): the sidecar did not ship the writes:\n${s.tail(30)}`);
  await sleep(1000);
  const requestsWhileWriting = (await audit.requestsSince(markStart)).length;
  // Work the writes still cause once they stopped: the level-1 compaction at the next 30 s tick.
  let afterWrites = null;
  if (settle) {
    const markA = await audit.mark();
    const tA = now();
    const target = await maxTxidIn(l0);
    const l1 = path.join(dir, 'replica', 'ltx', '1');
    const shipped = await waitFor(async () => (await maxTxidIn(l1)) >= target, 45_000, 250);
    await sleep(1000);
    const reqs = await audit.requestsSince(markA);
    afterWrites = { windowMs: round(now() - tA, 0), level1Shipped: !!shipped, requests: reqs.length, requestsByType: byType(reqs) };
    b.log(`  after the writes: ${reqs.length} requests in ${(afterWrites.windowMs / 1000).toFixed(1)} s until the level-1 compaction was on the replica`);
  }
  const mark = await audit.mark();
  const cpu0 = s.cpuSeconds();
  const t0 = now();
  await sleep(idleMs);
  const cpuS = s.cpuSeconds() - cpu0;
  const windowMs = now() - t0;
  const reqs = await audit.requestsSince(mark);
  const stop = await s.stop();
  const perHour = (reqs.length * 3_600_000) / windowMs;
  const cpuPerMin = (cpuS * 60_000) / windowMs;
  b.log(`  ${tool}: ${reqs.length} requests in ${(windowMs / 1000).toFixed(1)} s idle -> ${perHour.toFixed(0)}/h ${JSON.stringify(byType(reqs))}; cpu ${cpuPerMin.toFixed(3)} s/min`);
  return {
    tool,
    arm,
    idleMs: round(windowMs, 0),
    requests: reqs.length,
    requestsByType: byType(reqs),
    requestsPerHour: round(perHour, 1),
    requestsWhileWriting,
    afterWrites,
    cpuS: round(cpuS, 3),
    cpuSPerMin: round(cpuPerMin, 3),
    peakRssMb: round(stop.peakHwmMb, 1),
    exitCode: stop.exitCode,
  };
}
