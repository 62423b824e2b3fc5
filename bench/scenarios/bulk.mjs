// The bulk load: incompressible blobs in large transactions, then one small marked transaction,
// with walship or Litestream running (walship at sync-interval 0s, Litestream at its defaults: each
// tool as it ships fastest by default). Measured the same way for both: from the first bulk commit
// until the level-0 file holding the final transaction was renamed into place on the replica, the
// sidecar's CPU over that time and its peak RSS (VmHWM) over the whole run, which in the full run
// goes on until the level-1 compaction of the load is on the replica too (bounded): that is work
// the load causes.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runLoadWriter } from '../../test/kit/writer.mjs';
import { sleep, waitFor } from '../../test/kit/wait.mjs';
import { maxTxidIn, waitForMarker } from '../lib/ltxscan.mjs';
import { MB, now, round } from '../lib/stats.mjs';

const FINAL = 999_999_999;

/** Union of [end - ms, end] over walship's `uploaded` log lines: the time it spent uploading. */
function uploadBusyMs(ups) {
  const intervals = ups.map((e) => [e._t - e.ms, e._t]).sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let curS = -1;
  let curE = -1;
  for (const [s, e] of intervals) {
    if (s > curE) {
      if (curE > curS) busy += curE - curS;
      curS = s;
      curE = e;
    } else curE = Math.max(curE, e);
  }
  if (curE > curS) busy += curE - curS;
  return busy;
}

export async function bulkScenario(b, { tool, bytes, txBytes }) {
  const arm = tool === 'walship' ? 'walship-fast' : 'litestream-default';
  b.log(`bulk load (${tool}): ${Math.round(bytes / MB)} MB in ${Math.round(txBytes / MB)} MB transactions`);
  const dir = await b.scenarioDir(`bulk-${tool}`);
  const db = b.dbOf(dir);
  await runLoadWriter({ db, mode: 'init', warmup: 10, from: 1 }, 30_000);
  const s = await b.startSidecar(dir, arm, { logLevel: 'debug' });
  const l0 = b.l0Of(dir);
  if (!(await waitForMarker(b.dist, l0, 10, 30_000))) throw new Error(`bulk (${tool}): the sidecar did not catch up:\n${s.tail(30)}`);
  const keep = path.join(dir, 'l0-seen');
  const watch = await b.startWatcher(l0, 1_800_000, keep);
  const cpu0 = s.cpuSeconds();
  const t0 = now();
  const wr = await runLoadWriter({ db, mode: 'bulk', bytes, txBytes, finalMarker: FINAL }, 1_800_000);
  const writerEnd = now();
  const caught = await waitForMarker(b.dist, keep, FINAL, b.quick ? 180_000 : 900_000);
  const caughtAt = now();
  const cpuS = s.cpuSeconds() - cpu0;
  await sleep(300);
  const renames = watch.records.filter((r) => r.t <= caughtAt + 50);
  const lastRename = renames.length ? Math.max(...renames.map((r) => r.t)) : Number.NaN;
  const l0Bytes = (await Promise.all(renames.map((r) => fsp.stat(path.join(keep, r.name)).then((st) => st.size, () => 0)))).reduce((a, x) => a + x, 0);
  // The level-1 compaction of the load (every 30 s by default in both tools): its tick comes within
  // 30 s of catching up; bounded at 60 s.
  const lastTxid = await maxTxidIn(keep);
  const l1 = path.join(dir, 'replica', 'ltx', '1');
  // The quick run does not wait for it (up to 30 s per tool): its peak RSS is that of the load alone.
  const compacted = b.quick ? null : await waitFor(async () => (await maxTxidIn(l1)) >= lastTxid, Math.max(s.startedAt + 45_000, caughtAt + 60_000) - now(), 250);
  await watch.stop();
  const stop = await s.stop();
  if (stop.killedForMemory) b.log(`  ${tool.toUpperCase()} WAS KILLED: its RSS passed the bench safety limit`);
  const endToEndMs = lastRename - t0;
  const out = {
    tool,
    bytesInserted: wr.bytes,
    transactions: wr.n.length,
    writerMs: round(writerEnd - t0, 0),
    writerMBs: round(wr.bytes / MB / ((wr.endedAt - wr.startedAt) / 1000), 1),
    caughtUp: !!caught,
    l0Files: renames.length,
    endToEndBytes: l0Bytes,
    endToEndMs: round(endToEndMs, 0),
    endToEndMBs: round(l0Bytes / MB / (endToEndMs / 1000), 1),
    tailAfterWriterMs: round(lastRename - writerEnd, 0),
    cpuS: round(cpuS, 2),
    level1CompactionShipped: compacted === null ? null : !!compacted,
    peakRssMb: round(stop.peakHwmMb, 1),
    rssMbTimeline: stop.rssMbTimeline,
    killedForMemory: stop.killedForMemory,
    exitCode: stop.exitCode,
  };
  if (tool === 'walship') {
    const ups = s.uploads().filter((e) => e._t >= t0 && Number.isFinite(e.ms) && Number.isFinite(e.bytes));
    const shipped = ups.reduce((a, e) => a + e.bytes, 0);
    const busy = uploadBusyMs(ups);
    Object.assign(out, { uploads: ups.length, bytesShipped: shipped, uploadBusyMs: round(busy, 0), walshipMBs: ups.length ? round(shipped / MB / (busy / 1000), 1) : null });
  }
  b.log(`  ${tool}: on the replica ${(endToEndMs / 1000).toFixed(2)} s after the first commit (writer done at ${(out.writerMs / 1000).toFixed(2)} s), cpu ${out.cpuS} s, peak rss ${out.peakRssMb} MB, ${out.l0Files} level-0 files`);
  return { dir, db, tool, result: out };
}

/**
 * Raw OpenSSH `sftp put -f` (fsync on the server, as both tools' uploads do) of `bytes` random bytes
 * to the same server, the mean of two, minus the time of a session that only connects.
 */
export async function rawPut(b, dir, bytes) {
  const local = path.join(dir, 'raw-put.bin');
  await b.writeRandomFile(local, bytes);
  const remoteDir = path.join(dir, 'raw');
  await fsp.mkdir(remoteDir, { recursive: true });
  const connectMs = await b.sftpConnectMs();
  const times = [];
  for (let i = 0; i < 2; i++) {
    const r = await b.sftpBatch(`put -f ${local} ${remoteDir}/raw-put.bin\n`);
    if (r.code !== 0) throw new Error(`sftp put failed: ${r.stderr}`);
    times.push(r.ms);
    await fsp.rm(path.join(remoteDir, 'raw-put.bin'), { force: true });
  }
  await fsp.rm(local, { force: true });
  const putMs = times.reduce((a, x) => a + x, 0) / times.length;
  const raw = { bytes, connectMs: round(connectMs, 1), putMs: round(putMs, 1), putMsEach: times.map((t) => round(t, 1)), mbPerS: round(bytes / MB / ((putMs - connectMs) / 1000), 1) };
  b.log(`  raw sftp put: ${raw.mbPerS} MB/s (mean ${(putMs / 1000).toFixed(2)} s incl. ${raw.connectMs} ms connect)`);
  return raw;
}
