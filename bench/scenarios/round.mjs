// One measured round: a fresh database, a sidecar at one setting (or none), the writer at a fixed
// rate, and what reached the replica when. The same for walship and Litestream: the writer, sshd,
// watcher and marker decoding do not know which sidecar runs.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { runLoadWriter } from '../../test/kit/writer.mjs';
import { sleep } from '../../test/kit/wait.mjs';
import { ARMS } from '../context.mjs';
import { lagOf, lagSummary, p99ByFifth, splitSummary } from '../lib/lagcalc.mjs';
import { maxMarker, parseName, waitForMarker } from '../lib/ltxscan.mjs';
import { now, percentile, round } from '../lib/stats.mjs';

const WARMUP = 20;

/**
 * Runs one round and returns its figures. `arm` names an entry of ARMS (or is such an entry); `cgroups` runs the sidecar
 * in those cgroup directories. `catchUpMs` bounds the wait for the last transaction after the writer.
 */
export async function lagRound(b, { name, arm, rate, durationMs, cgroups = [], catchUpMs = 90_000 }) {
  const spec = typeof arm === 'string' ? ARMS[arm] : arm;
  const dir = await b.scenarioDir(name);
  const db = b.dbOf(dir);
  await runLoadWriter({ db, mode: 'init', warmup: WARMUP, from: 1 }, 30_000);
  if (spec.tool === 'none') {
    const wr = await runLoadWriter({ db, mode: 'rate', rate, durationMs, from: WARMUP + 1 }, durationMs + 60_000);
    const out = { name, arm, tool: 'none', rate, durationMs, transactions: wr.n.length, commitLatencyMs: commitStats(wr) };
    Object.defineProperty(out, 'latencySamples', { value: wr.latencyMs, enumerable: false });
    b.log(`  ${name}: commit p99 ${out.commitLatencyMs.p99} ms`);
    return out;
  }
  const s = await b.startSidecar(dir, spec, { cgroups });
  const l0 = b.l0Of(dir);
  if (!(await waitForMarker(b.dist, l0, WARMUP, 30_000))) throw new Error(`${name}: the sidecar did not ship the warm-up:\n${s.tail(30)}`);
  const before = new Set(await fsp.readdir(l0));
  const keep = path.join(dir, 'l0-seen');
  const replicaWatch = await b.startWatcher(l0, durationMs + catchUpMs + 60_000, keep);
  // walship's local staging (if this build has it where it had it): splits the lag into capture and ship.
  const stagingDir = path.join(dir, 'app', '.app.db-walship', 'ltx', '0');
  const stagingWatch = spec.tool === 'walship' && existsSync(stagingDir) ? await b.startWatcher(stagingDir, durationMs + catchUpMs + 60_000) : null;
  const shippedBefore = spec.tool === 'walship' ? await s.shippedBytes() : null;

  const cpu0 = s.cpuSeconds();
  const t0 = now();
  const wr = await runLoadWriter({ db, mode: 'rate', rate, durationMs, from: WARMUP + 1 }, durationMs + 120_000);
  const writerEnd = now();
  const caught = await waitForMarker(b.dist, keep, wr.lastN, catchUpMs);
  const caughtAt = now();
  const cpuS = s.cpuSeconds() - cpu0;
  await sleep(300);
  const shippedAfter = spec.tool === 'walship' ? await s.shippedBytes() : null;
  const renames = await replicaWatch.stop();
  const staged = new Map(((await stagingWatch?.stop()) ?? []).map((r) => [r.name, r.t]));
  const stop = await s.stop();

  const files = [];
  for (const r of renames) {
    if (before.has(r.name)) continue;
    const file = path.join(keep, r.name);
    const { max } = await maxMarker(b.dist, file).catch(() => ({ max: 0 }));
    const size = (await fsp.stat(file).catch(() => ({ size: 0 }))).size;
    files.push({ ...parseName(r.name), name: r.name, t: r.t, stagedAt: staged.get(r.name) ?? null, max, size });
  }
  const lag = lagOf(wr, files);
  const windowS = (caughtAt - t0) / 1000;
  const out = {
    name,
    arm: typeof arm === 'string' ? arm : `${spec.tool}-${spec.syncInterval}`,
    tool: spec.tool,
    syncInterval: spec.syncInterval ?? null,
    rate,
    achievedRate: round(wr.n.length / ((wr.endedAt - wr.startedAt) / 1000), 1),
    durationMs,
    transactions: wr.n.length,
    unshipped: lag.missing,
    caughtUp: !!caught,
    l0Files: files.length,
    txPerFile: round(wr.n.length / Math.max(1, files.length), 2),
    lagMs: lagSummary(lag.lags, lag.missing),
    lagP99ByFifthMs: p99ByFifth(lag.lags),
    captureLagMs: splitSummary(lag.captureLags),
    shipLagMs: splitSummary(lag.shipLags),
    tailAfterWriterMs: round((lag.lastDurableAt || writerEnd) - writerEnd, 1),
    l0BytesShipped: files.reduce((a, f) => a + f.size, 0),
    bytesPerHourAllLevels: shippedAfter !== null && shippedBefore !== null ? Math.round(((shippedAfter - shippedBefore) / windowS) * 3600) : null,
    // CPU of the sidecar's process tree from the first commit until the last one was on the replica.
    cpuS: round(cpuS, 3),
    cpuWindowS: round(windowS, 2),
    commitLatencyMs: commitStats(wr),
    peakRssMb: round(stop.peakHwmMb, 1),
    rssMbTimeline: stop.rssMbTimeline,
    killedForMemory: stop.killedForMemory,
    exitCode: stop.exitCode,
  };
  Object.defineProperty(out, 'lagSamples', { value: lag.lags, enumerable: false });
  Object.defineProperty(out, 'latencySamples', { value: wr.latencyMs, enumerable: false });
  b.log(
    `  ${name}: lag p50 ${out.lagMs.p50} / p99 ${out.lagMs.p99} ms, ${out.l0Files} files, cpu ${out.cpuS} s, rss ${out.peakRssMb} MB, commit p99 ${out.commitLatencyMs.p99} ms${lag.missing ? `, ${lag.missing} NOT SHIPPED` : ''}`,
  );
  return out;
}

function commitStats(wr) {
  return { p50: round(percentile(wr.latencyMs, 50), 3), p99: round(percentile(wr.latencyMs, 99), 3) };
}
