#!/usr/bin/env node
// walship benchmarks. `npm run bench` (full run, several minutes) or `npm run bench -- --quick`
// (smoke run, under 2 minutes). Prints a table; the LAST line of stdout is one JSON object with the
// headline figures. The full run also writes bench/results/<date>.json and <date>.svg.
// How each figure is measured: bench/README.md.
//
// Flags: --quick, --keep (leave the temporary directory), --only=lag,latency,bulk,idle,naive,
// --lag=RATE:SYNC:SECONDS,... (other lag scenarios; with --only or --lag nothing is saved),
// --replica=file (develop against a file:// replica; the figures are only meaningful with sftp),
// --naive-interval=SECONDS (the baseline's backup period, default 60).
import { spawn } from 'node:child_process';
import { promises as fsp, existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxMarker, parseName, waitForMarker } from './lib/ltxscan.mjs';
import { Sshd } from './lib/sshd.mjs';
import { renderSvg } from './lib/svg.mjs';
import { children, freePort, MB, now, percentile, round, runCmd, runWriter, sleep, summarize, waitFor } from './lib/util.mjs';
import { Walship, writeConfig } from './lib/walship.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const argv = process.argv.slice(2);
const flag = (name) => argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const flagValue = (name, dflt) => flag(name)?.split('=')[1] ?? dflt;
const QUICK = !!flag('quick');
const KEEP = !!flag('keep');
const REPLICA_TYPE = flagValue('replica', 'sftp');
const ONLY = flag('only') ? new Set(flagValue('only', '').split(',')) : null;
const NAIVE_INTERVAL_S = Number(flagValue('naive-interval', '60'));
const want = (phase) => !ONLY || ONLY.has(phase);
// --lag=100:0s:40,1000:0s:40 replaces the lag scenarios (rate:sync-interval:seconds).
const LAG_OVERRIDE = flag('lag')
  ? flagValue('lag', '')
      .split(',')
      .map((spec) => {
        const [rate, syncInterval, seconds] = spec.split(':');
        return { rate: Number(rate), syncInterval: syncInterval ?? '0s', durationMs: Number(seconds ?? 20) * 1000 };
      })
  : null;

const GOALS = {
  lag_p99_ms: { le: 250 },
  write_p99_ratio: { le: 1.1 },
  throughput_ratio: { ge: 0.8 },
  restore_ratio: { le: 1.3 },
  sidecar_rss_mb: { le: 100 },
  idle_requests_per_hour: { le: 0 },
};

const P = QUICK
  ? {
      lag: [{ rate: 100, syncInterval: '0s', durationMs: 10_000 }],
      latency: { rounds: 2, rate: 100, durationMs: 6_000 },
      bulk: { bytes: 100 * MB, txBytes: 4 * MB },
      idleMs: 12_000,
      naive: { underLoadTimeoutMs: 5_000, cycles: 1 },
    }
  : {
      lag: [
        { rate: 10, syncInterval: '0s', durationMs: 40_000 },
        { rate: 100, syncInterval: '0s', durationMs: 40_000 },
        { rate: 1000, syncInterval: '0s', durationMs: 40_000 },
        { rate: 100, syncInterval: '1s', durationMs: 40_000 },
      ],
      latency: { rounds: 3, rate: 100, durationMs: 20_000 },
      bulk: { bytes: 1024 * MB, txBytes: 8 * MB },
      idleMs: 120_000,
      naive: { underLoadTimeoutMs: 30_000, cycles: 2 },
    };

// --- process bookkeeping: every child is ended by its own pid on exit ------------------------------
const cleanups = [];
let BASE = null;
let DIST = null;
async function cleanup() {
  for (const f of cleanups.splice(0).reverse()) {
    try {
      await f();
    } catch {
      // keep going: every other child still has to be ended
    }
  }
  if (watchdog) {
    watchdog.stdin.end('done\n');
    watchdog = null;
  }
  if (DIST) await fsp.rm(DIST, { recursive: true, force: true }).catch(() => undefined);
  if (BASE && !KEEP) await fsp.rm(BASE, { recursive: true, force: true }).catch(() => undefined);
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    void cleanup().finally(() => process.exit(130));
  });
}

// The watchdog ends every child (by pid, with what runs under it) if this process dies uncleanly.
let watchdog = spawn(process.execPath, [path.join(HERE, 'lib', 'watchdog.mjs')], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
watchdog.unref();
watchdog.stdin.unref?.();
children.track = (child) => {
  if (!watchdog || child.pid === undefined) return;
  watchdog.stdin.write(`tree ${child.pid}\n`);
  child.once('exit', () => watchdog?.stdin.write(`forget ${child.pid}\n`));
};

const log = (...a) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

// --- shared setup ------------------------------------------------------------------------------------
let sshd = null;
let audit = null;

/** A private copy of dist/, so a rebuild by someone else mid-run cannot change what is measured. */
async function snapshotDist() {
  // WALSHIP_BENCH_DIST=DIR measures another build (an experiment) instead of dist/.
  const src = process.env.WALSHIP_BENCH_DIST ? path.resolve(process.env.WALSHIP_BENCH_DIST) : path.join(ROOT, 'dist');
  if (!existsSync(path.join(src, 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build first (npm run bench does)');
  const dst = path.join(HERE, `.dist-${process.pid}`);
  await fsp.cp(src, dst, { recursive: true });
  return dst;
}

/** A scenario's directory: the database in <dir>/app/ (walship's staging beside it), the replica in <dir>/replica/. */
async function scenarioDir(name) {
  const dir = path.join(BASE, name);
  await fsp.mkdir(path.join(dir, 'app'), { recursive: true });
  return dir;
}
const dbOf = (dir) => path.join(dir, 'app', 'app.db');

function replicaFor(dir, server = sshd) {
  const p = path.join(dir, 'replica');
  return REPLICA_TYPE === 'file' ? { type: 'file', path: p } : { type: 'sftp', sshd: server, path: p };
}

async function startWalship(dir, { syncInterval, logLevel = 'info', server = sshd }) {
  const addrPort = await freePort();
  const cfg = path.join(dir, 'walship.yml');
  await writeConfig(cfg, { dbPath: dbOf(dir), replica: replicaFor(dir, server), syncInterval, addrPort });
  const w = new Walship(DIST, cfg, addrPort, { logLevel });
  cleanups.push(() => w.exitCode === null && w.proc.kill('SIGKILL'));
  await w.start();
  return w;
}

function sftpBatch(server, batch, timeoutMs = 600_000) {
  return runCmd('sftp', [...server.sftpArgs(), '-b', '-', `${server.user}@${server.host}`], { input: batch, timeoutMs });
}

/** Time of an sftp session that connects, authenticates and does nothing (median of 3). */
async function sftpConnectMs(server) {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const r = await sftpBatch(server, 'pwd\n', 30_000);
    if (r.code !== 0) throw new Error(`sftp connect failed: ${r.stderr}`);
    times.push(r.ms);
  }
  return percentile(times, 50);
}

async function writeRandomFile(file, bytes) {
  const { randomBytes } = await import('node:crypto');
  const fh = await fsp.open(file, 'w');
  try {
    for (let off = 0; off < bytes; off += 8 * MB) await fh.write(randomBytes(Math.min(8 * MB, bytes - off)));
  } finally {
    await fh.close();
  }
}

// --- lag ---------------------------------------------------------------------------------------------
async function lagScenario({ rate, syncInterval, durationMs }) {
  const name = `lag-${rate}tps-${syncInterval}`;
  log(`lag: ${rate} tx/s, sync-interval ${syncInterval}, ${durationMs / 1000}s`);
  const dir = await scenarioDir(name);
  const db = dbOf(dir);
  const WARMUP = 20;
  await runWriter({ db, mode: 'init', warmup: WARMUP, from: 1 }, 30_000);
  const w = await startWalship(dir, { syncInterval });
  const l0 = path.join(dir, 'replica', 'ltx', '0');
  if (!(await waitForMarker(DIST, l0, WARMUP, 20_000))) throw new Error(`${name}: walship did not ship the warm-up: ${w.tail()}`);
  const before = new Set(await fsp.readdir(l0));

  // The watchers are their own processes, so their timestamps do not wait on this one's event loop.
  // One watches the replica (the figure), one walship's local staging directory (where the time goes).
  const replicaWatch = await startWatcher(l0, durationMs + 180_000);
  const stagingWatch = await startWatcher(path.join(dir, 'app', '.app.db-walship', 'ltx', '0'), durationMs + 180_000);
  const shippedBefore = shippedBytes(await w.metrics());

  const from = WARMUP + 1;
  const t0 = now();
  const wr = await runWriter({ db, mode: 'rate', rate, durationMs, from }, durationMs + 120_000);
  const writerEnd = now();
  const caught = await waitForMarker(DIST, l0, wr.lastN, 90_000);
  await sleep(300);
  const shippedAfter = shippedBytes(await w.metrics());
  const windowS = (now() - t0) / 1000;
  const renames = await replicaWatch.stop();
  const staged = new Map((await stagingWatch.stop()).map((r) => [r.name, r.t]));
  const stop = await w.stop();

  // Map each transaction to the first level-0 file (in TXID order, which is upload order) whose
  // pages carry its marker or a later one.
  const files = [];
  for (const r of renames) {
    if (before.has(r.name)) continue;
    const range = parseName(r.name);
    const { max } = await maxMarker(DIST, path.join(l0, r.name));
    const size = (await fsp.stat(path.join(l0, r.name))).size;
    files.push({ ...range, name: r.name, t: r.t, stagedAt: staged.get(r.name) ?? null, max, size });
  }
  files.sort((a, b) => a.minTXID - b.minTXID);
  let covered = 0;
  let durableAt = 0;
  const reach = []; // [maxMarkerSoFar, time it became restorable, the file]
  for (const f of files) {
    durableAt = Math.max(durableAt, f.t);
    covered = Math.max(covered, f.max);
    reach.push([covered, durableAt, f]);
  }
  const lags = [];
  const captureLags = []; // commit -> LTX file renamed into walship's local staging
  const shipLags = []; // staged -> renamed on the replica
  let missing = 0;
  let j = 0;
  for (let i = 0; i < wr.n.length; i++) {
    const n = wr.n[i];
    while (j < reach.length && reach[j][0] < n) j++;
    if (j >= reach.length) {
      missing++;
      continue;
    }
    lags.push(reach[j][1] - wr.commitAt[i]);
    const f = reach[j][2];
    if (f.stagedAt !== null) {
      captureLags.push(f.stagedAt - wr.commitAt[i]);
      shipLags.push(reach[j][1] - f.stagedAt);
    }
  }
  // Lag over time: p99 per fifth of the run, to show drift.
  const fifths = [];
  const perFifth = Math.ceil(lags.length / 5);
  for (let k = 0; k < 5 && k * perFifth < lags.length; k++) fifths.push(round(percentile(lags.slice(k * perFifth, (k + 1) * perFifth), 99), 1));
  const s = summarize(missing > 0 ? [...lags, ...Array(missing).fill(Number.POSITIVE_INFINITY)] : lags);
  const l0Bytes = files.reduce((a, f) => a + f.size, 0);
  const achievedRate = wr.n.length / ((wr.endedAt - wr.startedAt) / 1000);
  const out = {
    name,
    rate,
    achievedRate: round(achievedRate, 1),
    syncInterval,
    durationMs,
    transactions: wr.n.length,
    unshipped: missing,
    caughtUp: !!caught,
    l0Files: files.length,
    txPerFile: round(wr.n.length / Math.max(1, files.length), 2),
    lagMs: { p50: round(s.p50, 1), p90: round(s.p90, 1), p99: round(s.p99, 1), max: round(s.max, 1), mean: round(s.mean, 1) },
    lagP99ByFifthMs: fifths,
    // Where the lag goes: commit -> staged locally (capture), staged -> renamed on the replica (ship).
    captureLagMs: { p50: round(percentile(captureLags, 50), 1), p99: round(percentile(captureLags, 99), 1) },
    shipLagMs: { p50: round(percentile(shipLags, 50), 1), p99: round(percentile(shipLags, 99), 1) },
    tailAfterWriterMs: round((durableAt || writerEnd) - writerEnd, 1),
    l0BytesShipped: l0Bytes,
    bytesShippedAllLevels: shippedAfter - shippedBefore,
    bytesPerHourAllLevels: Math.round(((shippedAfter - shippedBefore) / windowS) * 3600),
    commitLatencyMs: { p50: round(percentile(wr.latencyMs, 50), 3), p99: round(percentile(wr.latencyMs, 99), 3) },
    peakRssMb: round(stop.peakHwmMb, 1),
    rssMbTimeline: stop.rssMbTimeline,
    exitCode: stop.exitCode,
  };
  log(
    `  -> p50 ${out.lagMs.p50} ms, p99 ${out.lagMs.p99} ms, max ${out.lagMs.max} ms (capture p50 ${out.captureLagMs.p50} / p99 ${out.captureLagMs.p99}, ship p50 ${out.shipLagMs.p50} / p99 ${out.shipLagMs.p99}), ${out.l0Files} files, rss ${out.peakRssMb} MB${missing ? `, ${missing} NOT SHIPPED` : ''}`,
  );
  return out;
}

/** Starts lib/watch-l0.mjs on a directory; stop() ends it and returns its { name, t } records. */
async function startWatcher(dir, maxMs) {
  await fsp.mkdir(dir, { recursive: true });
  const child = spawn(process.execPath, [path.join(HERE, 'lib', 'watch-l0.mjs'), dir, String(maxMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.track(child);
  cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
  const records = [];
  let ready = false;
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (c) => {
    buf += c;
    const parts = buf.split('\n');
    buf = parts.pop();
    for (const line of parts) {
      if (line === 'ready') ready = true;
      else if (line.startsWith('{')) records.push(JSON.parse(line));
    }
  });
  if (!(await waitFor(() => ready || child.exitCode !== null, 10_000, 20)) || !ready) throw new Error(`watcher on ${dir} did not start`);
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      }
      return records;
    },
  };
}

function shippedBytes(metricsText) {
  let sum = 0;
  for (const line of metricsText.split('\n')) {
    if (line.startsWith('walship_replica_bytes_shipped_total')) sum += Number(line.split(/\s+/).pop());
  }
  return sum;
}

// --- write latency with and without the sidecar ----------------------------------------------------
async function latencyPhase({ rounds, rate, durationMs }) {
  log(`write latency: ${rounds} rounds each with and without walship, ${rate} tx/s, ${durationMs / 1000}s per round`);
  const all = { with: [], without: [] };
  const perRound = [];
  let peak = 0;
  for (let r = 0; r < rounds; r++) {
    // ABBA order, so neither mode always runs first.
    const order = r % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const mode of order) {
      const dir = await scenarioDir(`latency-${r}-${mode}`);
      const db = dbOf(dir);
      await runWriter({ db, mode: 'init', warmup: 200, from: 1 }, 30_000);
      let w = null;
      if (mode === 'with') {
        w = await startWalship(dir, { syncInterval: '0s' });
        if (!(await waitForMarker(DIST, path.join(dir, 'replica', 'ltx', '0'), 200, 20_000))) throw new Error(`latency: walship did not catch up: ${w.tail()}`);
      }
      const wr = await runWriter({ db, mode: 'rate', rate, durationMs, from: 201 }, durationMs + 60_000);
      if (w) peak = Math.max(peak, (await w.stop()).peakHwmMb);
      all[mode].push(...wr.latencyMs);
      perRound.push({ round: r, mode, p50: round(percentile(wr.latencyMs, 50), 3), p99: round(percentile(wr.latencyMs, 99), 3), n: wr.latencyMs.length });
      log(`  round ${r} ${mode}: p50 ${perRound.at(-1).p50} ms, p99 ${perRound.at(-1).p99} ms`);
    }
  }
  const s = { with: summarize(all.with), without: summarize(all.without) };
  return {
    rate,
    roundDurationMs: durationMs,
    rounds,
    withMs: { p50: round(s.with.p50, 3), p99: round(s.with.p99, 3), max: round(s.with.max, 3), n: s.with.count },
    withoutMs: { p50: round(s.without.p50, 3), p99: round(s.without.p99, 3), max: round(s.without.max, 3), n: s.without.count },
    p99Ratio: round(s.with.p99 / s.without.p99, 3),
    p50Ratio: round(s.with.p50 / s.without.p50, 3),
    perRound,
    peakRssMb: round(peak, 1),
  };
}

// --- bulk load: throughput, restore ----------------------------------------------------------------
async function bulkPhase({ bytes, txBytes }) {
  log(`bulk load: ${Math.round(bytes / MB)} MB in ${Math.round(txBytes / MB)} MB transactions`);
  const dir = await scenarioDir('bulk');
  const db = dbOf(dir);
  await runWriter({ db, mode: 'init', warmup: 10, from: 1 }, 30_000);
  const w = await startWalship(dir, { syncInterval: '0s', logLevel: 'debug' });
  const l0 = path.join(dir, 'replica', 'ltx', '0');
  if (!(await waitForMarker(DIST, l0, 10, 20_000))) throw new Error(`bulk: walship did not catch up: ${w.tail()}`);
  // When each level-0 file appears in local staging: where the end-to-end time goes.
  const stagingWatch = await startWatcher(path.join(dir, 'app', '.app.db-walship', 'ltx', '0'), 1_800_000);
  const t0 = now();
  const FINAL = 999_999_999;
  const wr = await runWriter({ db, mode: 'bulk', bytes, txBytes, finalMarker: FINAL }, 1_800_000);
  const writerEnd = now();
  const caught = await waitForMarker(DIST, l0, FINAL, QUICK ? 120_000 : 900_000);
  const caughtAt = now();
  await sleep(500);
  const staged = await stagingWatch.stop();
  // The level-1 compaction (every 30 s by default) of the bulk data is part of the load the sidecar
  // carries: keep it running until that file is shipped too (bounded), so peak RSS includes it.
  const stagedL0 = path.join(dir, 'app', '.app.db-walship', 'ltx', '0');
  const lastTxid = Math.max(0, ...(await fsp.readdir(stagedL0)).map((n) => parseName(n)?.maxTXID ?? 0));
  const compactedAndShipped = await waitFor(
    () => w.uploads().some((e) => e.file.startsWith('ltx/1/') && (parseName(e.file.slice(6))?.maxTXID ?? 0) >= lastTxid),
    // The next compaction tick comes within 30 s of catching up; compacting 1 GB takes a while.
    Math.max(w.startedAt + 45_000, caughtAt + 31_000 + (QUICK ? 10_000 : 120_000)) - now(),
    200,
  );
  if (process.env.BENCH_DEBUG) {
    log(`staged records: ${JSON.stringify(staged.map((r) => [r.name.slice(14, 16), Math.round(r.t - t0)]))} writer end ${Math.round(writerEnd - t0)}`);
    for (const e of w.events.filter((e) => e._t >= t0)) log(`  +${Math.round(new Date(e.time).getTime() - t0)} ${e.event} ${JSON.stringify(e).slice(0, 200)}`);
  }
  const stop = await w.stop();
  if (stop.killedForMemory) log('  WALSHIP WAS KILLED: its RSS passed the bench safety limit');
  const lastStaged = staged.length ? Math.max(...staged.map((r) => r.t)) : Number.NaN;
  const ups = w.uploads().filter((e) => e._t >= t0);
  const shipped = ups.reduce((a, e) => a + e.bytes, 0);
  // Time spent uploading: the union of [end - ms, end] over the uploads.
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
  // End to end: until the level-0 file holding the final transaction was on the replica.
  const l0Ups = ups.filter((e) => e.file.startsWith('ltx/0/') && e._t <= caughtAt + 50);
  const lastUpload = l0Ups.length ? Math.max(...l0Ups.map((e) => e._t)) : writerEnd;
  const byLevel = {};
  for (const e of ups) {
    const lvl = /^ltx\/(\d+)\//.exec(e.file)?.[1] ?? '?';
    byLevel[lvl] = (byLevel[lvl] ?? 0) + e.bytes;
  }
  const walshipMBs = shipped / MB / (busy / 1000);
  const l0Bytes = l0Ups.reduce((a, e) => a + e.bytes, 0);
  const e2eMBs = l0Bytes / MB / ((lastUpload - t0) / 1000);
  const writerMBs = wr.bytes / MB / ((wr.endedAt - wr.startedAt) / 1000);
  log(
    `  walship shipped ${(shipped / MB).toFixed(1)} MB in ${ups.length} uploads, busy ${(busy / 1000).toFixed(2)} s -> ${walshipMBs.toFixed(1)} MB/s; end to end ${e2eMBs.toFixed(1)} MB/s (writer done at ${((writerEnd - t0) / 1000).toFixed(2)} s, last file staged at ${((lastStaged - t0) / 1000).toFixed(2)} s, last upload at ${((lastUpload - t0) / 1000).toFixed(2)} s)`,
  );

  let raw = null;
  if (REPLICA_TYPE === 'sftp') {
    // Raw OpenSSH sftp put of the same number of bytes (random, like the blobs), fsynced on the
    // server (put -f) as walship's uploads are; the connect time is taken off.
    const rawLocal = path.join(dir, 'raw-put.bin');
    await writeRandomFile(rawLocal, shipped);
    const remoteDir = path.join(dir, 'raw');
    await fsp.mkdir(remoteDir, { recursive: true });
    const connectMs = await sftpConnectMs(sshd);
    // Two puts, their mean: one sample on a shared machine is noisy.
    const times = [];
    for (let i = 0; i < 2; i++) {
      const r = await sftpBatch(sshd, `put -f ${rawLocal} ${remoteDir}/raw-put.bin\n`);
      if (r.code !== 0) throw new Error(`sftp put failed: ${r.stderr}`);
      times.push(r.ms);
      await fsp.rm(path.join(remoteDir, 'raw-put.bin'), { force: true });
    }
    const putMs = times.reduce((a, b) => a + b, 0) / times.length;
    const putS = (putMs - connectMs) / 1000;
    raw = { connectMs: round(connectMs, 1), putMs: round(putMs, 1), putMsEach: times.map((t) => round(t, 1)), mbPerS: round(shipped / MB / putS, 1) };
    await fsp.rm(rawLocal, { force: true });
    log(`  raw sftp put: ${raw.mbPerS} MB/s (mean ${(putMs / 1000).toFixed(2)} s incl. ${raw.connectMs} ms connect)`);
  }
  return {
    dir,
    db,
    result: {
      bytesInserted: wr.bytes,
      transactions: wr.n.length,
      writerMBs: round(writerMBs, 1),
      caughtUp: !!caught,
      bytesShipped: shipped,
      bytesShippedByLevel: byLevel,
      uploads: ups.length,
      uploadList: ups.slice(0, 50).map((e) => ({ file: e.file, bytes: e.bytes, ms: e.ms, mbPerS: round(e.bytes / MB / (e.ms / 1000), 1) })),
      uploadBusyMs: round(busy, 0),
      walshipMBs: round(walshipMBs, 1),
      endToEndMs: round(lastUpload - t0, 0),
      endToEndBytes: l0Bytes,
      endToEndMBs: round(e2eMBs, 1),
      tailAfterWriterMs: round(lastUpload - writerEnd, 0),
      writerMs: round(writerEnd - t0, 0),
      // From the first bulk commit until the last level-0 file was in staging (fsynced).
      capturedByMs: round(lastStaged - t0, 0),
      l0FilesStaged: staged.length,
      level1CompactionShipped: !!compactedAndShipped,
      raw,
      throughputRatio: raw ? round(walshipMBs / raw.mbPerS, 3) : null,
      endToEndRatio: raw ? round(e2eMBs / raw.mbPerS, 3) : null,
      peakRssMb: round(stop.peakHwmMb, 1),
      rssMbTimeline: stop.rssMbTimeline,
      killedForMemory: stop.killedForMemory,
      exitCode: stop.exitCode,
    },
  };
}

async function restorePhase(bulk) {
  log('restore: walship restore from the SFTP replica vs raw sftp get of the same bytes');
  const { dir, db } = bulk;
  const cfg = path.join(dir, 'walship.yml');
  const out = path.join(dir, 'restored.db');
  // The files a restore reads, by walship's own planner over the replica's listing.
  const { planRestore } = await import(path.join(DIST, 'restore', 'plan.js'));
  const listing = new Map();
  for (const level of [9, 3, 2, 1, 0]) {
    const ld = path.join(dir, 'replica', 'ltx', String(level));
    const files = [];
    for (const name of await fsp.readdir(ld).catch(() => [])) {
      const r = parseName(name);
      if (!r) continue;
      const st = await fsp.stat(path.join(ld, name));
      files.push({ level, ...r, size: st.size, createdAt: st.mtime });
    }
    listing.set(level, files);
  }
  const plan = planRestore(listing, {});
  const planBytes = plan.reduce((a, f) => a + f.size, 0);
  await fsp.rm(out, { force: true });
  const r = await runCmd(process.execPath, [path.join(DIST, 'cli', 'main.js'), 'restore', '-config', cfg, '-o', out, db], { timeoutMs: 1_800_000 });
  if (r.code !== 0) throw new Error(`walship restore failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  const restoredLine = r.stdout
    .split('\n')
    .filter((l) => l.includes('"restored"'))
    .pop();
  const logged = restoredLine ? JSON.parse(restoredLine) : {};
  const outSize = (await fsp.stat(out)).size;
  // Sanity: the restored database holds what the source holds.
  const q = "SELECT count(*), coalesce(sum(length(data)),0) FROM bulk; SELECT max(n) FROM tx;";
  const [src, dst] = await Promise.all([runCmd('sqlite3', [db, q], { timeoutMs: 120_000 }), runCmd('sqlite3', [out, q], { timeoutMs: 120_000 })]);
  const same = src.code === 0 && src.stdout === dst.stdout;
  log(`  walship restore: ${(r.ms / 1000).toFixed(2)} s, ${plan.length} files, ${(planBytes / MB).toFixed(1)} MB read, output ${(outSize / MB).toFixed(1)} MB, matches source: ${same}`);

  let raw = null;
  if (REPLICA_TYPE === 'sftp') {
    const remote = path.join(dir, 'raw', 'raw-get.bin');
    await fsp.mkdir(path.dirname(remote), { recursive: true });
    await writeRandomFile(remote, planBytes);
    const local = path.join(dir, 'raw-get.local');
    await fsp.rm(local, { force: true });
    const times = [];
    for (let i = 0; i < 2; i++) {
      await fsp.rm(local, { force: true });
      const g = await sftpBatch(sshd, `get -f ${remote} ${local}\n`);
      if (g.code !== 0) throw new Error(`sftp get failed: ${g.stderr}`);
      times.push(g.ms);
    }
    const getMs = times.reduce((a, b) => a + b, 0) / times.length;
    raw = { getMs: round(getMs, 1), getMsEach: times.map((t) => round(t, 1)), mbPerS: round(planBytes / MB / (getMs / 1000), 1) };
    await fsp.rm(local, { force: true });
    await fsp.rm(remote, { force: true });
    log(`  raw sftp get: mean ${(getMs / 1000).toFixed(2)} s`);
  }
  await fsp.rm(out, { force: true });
  return {
    files: plan.length,
    filesLogged: logged.files ?? null,
    planMatchesLog: logged.files === plan.length,
    bytesRead: planBytes,
    outputBytes: outSize,
    matchesSource: same,
    walshipMs: round(r.ms, 1),
    raw,
    restoreRatio: raw ? round(r.ms / raw.getMs, 3) : null,
  };
}

// --- idle requests -----------------------------------------------------------------------------------
async function idlePhase(idleMs, settle) {
  log(`idle: SFTP requests counted at the server over ${idleMs / 1000}s of an idle database`);
  const dir = await scenarioDir('idle');
  const db = dbOf(dir);
  await runWriter({ db, mode: 'init', warmup: 50, from: 1 }, 30_000);
  const markStart = await audit.mark();
  const w = await startWalship(dir, { syncInterval: '0s', server: audit });
  const l0 = path.join(dir, 'replica', 'ltx', '0');
  if (!(await waitForMarker(DIST, l0, 50, 20_000))) throw new Error(`idle: walship did not catch up: ${w.tail()}`);
  // Some writes while it runs, then silence.
  const wr = await runWriter({ db, mode: 'rate', rate: 50, durationMs: 2000, from: 51 }, 60_000);
  if (!(await waitForMarker(DIST, l0, wr.lastN, 30_000))) throw new Error(`idle: walship did not ship the writes: ${w.tail()}`);
  await sleep(1000);
  const busyReqs = await audit.requestsSince(markStart);
  // Work the writes still cause once they stopped: the level-1 compaction at the next 30 s tick.
  // The full run waits for it to be shipped (bounded) and reports it on its own; the steady idle
  // window starts after it. (The quick run's window ends before the first tick comes.)
  let afterWrites = null;
  if (settle) {
    const markA = await audit.mark();
    const tA = now();
    const shipped = await waitFor(async () => (await audit.auditSince(markA)).some((l) => /posix-rename .* new ".*\/ltx\/1\//.test(l)), 45_000, 250);
    await sleep(1000);
    const reqs = await audit.requestsSince(markA);
    const byType = {};
    for (const r of reqs) byType[r.type] = (byType[r.type] ?? 0) + 1;
    afterWrites = { windowMs: round(now() - tA, 0), level1Shipped: !!shipped, requests: reqs.length, requestsByType: byType };
    log(`  after the writes: ${reqs.length} requests in ${(afterWrites.windowMs / 1000).toFixed(1)} s until the level-1 compaction was shipped ${JSON.stringify(byType)}`);
  }
  const mark = await audit.mark();
  const t0 = now();
  await sleep(idleMs);
  const reqs = await audit.requestsSince(mark);
  const windowMs = now() - t0;
  const stop = await w.stop();
  const byType = {};
  for (const r of reqs) byType[r.type] = (byType[r.type] ?? 0) + 1;
  const perHour = (reqs.length * 3_600_000) / windowMs;
  log(`  ${reqs.length} requests in ${(windowMs / 1000).toFixed(1)} s idle -> ${perHour.toFixed(0)}/h ${JSON.stringify(byType)}`);
  return {
    idleMs: round(windowMs, 0),
    requests: reqs.length,
    requestsByType: byType,
    requestsPerHour: round(perHour, 1),
    requestsWhileWriting: busyReqs.length,
    afterWrites,
    exitCode: stop.exitCode,
  };
}

// --- naive baseline: sqlite3 .backup + sftp put every N seconds ---------------------------------------
async function naivePhase(bulk, { underLoadTimeoutMs, cycles }) {
  log(`naive baseline: sqlite3 .backup + sftp put -f every ${NAIVE_INTERVAL_S}s, on the ${bulk ? 'bulk-loaded' : 'small'} database`);
  const dir = bulk?.dir ?? (await scenarioDir('naive'));
  const db = dbOf(dir);
  if (!bulk) await runWriter({ db, mode: 'init', warmup: 100, from: 1 }, 30_000);
  const dbBytes = (await fsp.stat(db)).size;
  const copy = path.join(dir, 'naive-backup.db');
  const remoteDir = path.join(dir, 'naive-replica');
  await fsp.mkdir(remoteDir, { recursive: true });

  // 1. Under 100 tx/s of writes, as it would run beside the application.
  await fsp.rm(copy, { force: true });
  const writer = runWriter({ db, mode: 'rate', rate: 100, durationMs: underLoadTimeoutMs + 2000, from: 50_000_001 }, underLoadTimeoutMs + 60_000);
  await sleep(500);
  const underLoad = await runCmd('sqlite3', [db, `.backup ${copy}`], { timeoutMs: underLoadTimeoutMs });
  await writer;
  const underLoadResult = { completed: !underLoad.timedOut && underLoad.code === 0, ms: round(underLoad.ms, 0), timeoutMs: underLoadTimeoutMs };
  log(`  .backup under 100 tx/s: ${underLoadResult.completed ? `done in ${underLoadResult.ms} ms` : `did not finish in ${underLoadTimeoutMs / 1000} s (the backup restarts whenever another connection writes)`}`);

  // 2. Best case: the database idle during the backup.
  const runs = [];
  for (let c = 0; c < cycles; c++) {
    await fsp.rm(copy, { force: true });
    const b = await runCmd('sqlite3', [db, `.backup ${copy}`], { timeoutMs: 600_000 });
    if (b.code !== 0) throw new Error(`sqlite3 .backup failed: ${b.stderr}`);
    let putMs = 0;
    if (REPLICA_TYPE === 'sftp') {
      const p = await sftpBatch(sshd, `put -f ${copy} ${remoteDir}/app.db\n`);
      if (p.code !== 0) throw new Error(`sftp put failed: ${p.stderr}`);
      putMs = p.ms;
    } else {
      const t = now();
      await fsp.copyFile(copy, path.join(remoteDir, 'app.db'));
      putMs = now() - t;
    }
    runs.push({ backupMs: b.ms, putMs });
  }
  await fsp.rm(copy, { force: true });
  const cycleMs = Math.max(...runs.map((r) => r.backupMs + r.putMs));
  const res = {
    intervalS: NAIVE_INTERVAL_S,
    dbBytes,
    underLoad: underLoadResult,
    backupMs: round(Math.max(...runs.map((r) => r.backupMs)), 0),
    putMs: round(Math.max(...runs.map((r) => r.putMs)), 0),
    cycleMs: round(cycleMs, 0),
    // A commit just after a backup started is only off the machine when the next one is uploaded.
    recoveryPointWorstS: round(NAIVE_INTERVAL_S + cycleMs / 1000, 1),
    bytesPerHour: Math.round((dbBytes * 3600) / NAIVE_INTERVAL_S),
  };
  log(`  cycle ${(cycleMs / 1000).toFixed(2)} s on ${(dbBytes / MB).toFixed(0)} MB: worst-case loss window ${res.recoveryPointWorstS} s, ${(res.bytesPerHour / MB).toFixed(0)} MB/h`);
  return res;
}

// --- report ------------------------------------------------------------------------------------------
function goalMet(key, v) {
  const g = GOALS[key];
  if (!Number.isFinite(v)) return null;
  return 'le' in g ? v <= g.le : v >= g.ge;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n');
}

const f1 = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));

async function main() {
  const started = Date.now();
  BASE = await fsp.mkdtemp(path.join(os.tmpdir(), 'walship-bench-'));
  await fsp.chmod(BASE, 0o755);
  if (!KEEP) watchdog?.stdin.write(`rm ${BASE}\n`);
  DIST = await snapshotDist();
  watchdog?.stdin.write(`rm ${DIST}\n`);
  log(`mode ${QUICK ? 'quick' : 'full'}, replica ${REPLICA_TYPE}, work dir ${BASE}`);
  if (REPLICA_TYPE === 'sftp') {
    sshd = await Sshd.start(BASE);
    cleanups.push(() => sshd.stop());
    audit = await Sshd.start(BASE, { audit: true, keys: { hostKey: sshd.hostKey, clientKey: sshd.clientKey } });
    cleanups.push(() => audit.stop());
  }

  const results = {
    mode: QUICK ? 'quick' : 'full',
    date: new Date().toISOString(),
    replica: REPLICA_TYPE,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, node ${process.version}, ${os.release()}`,
    goals: GOALS,
  };
  const rssPeaks = [];

  if (want('lag')) {
    results.lag = { scenarios: [] };
    for (const sc of LAG_OVERRIDE ?? P.lag) {
      const r = await lagScenario(sc);
      results.lag.scenarios.push(r);
      rssPeaks.push(r.peakRssMb);
    }
  }
  if (want('latency')) {
    results.latency = await latencyPhase(P.latency);
    rssPeaks.push(results.latency.peakRssMb);
  }
  let bulk = null;
  if (want('bulk')) {
    bulk = await bulkPhase(P.bulk);
    results.bulk = bulk.result;
    rssPeaks.push(bulk.result.peakRssMb);
    results.restore = await restorePhase(bulk);
  }
  if (want('idle') && audit) results.idle = await idlePhase(P.idleMs, !QUICK);
  if (want('naive')) results.naive = await naivePhase(bulk, P.naive);

  const main100 = results.lag?.scenarios.find((s) => s.rate === 100 && s.syncInterval === '0s') ?? results.lag?.scenarios[0];
  const h = {
    lag_p50_ms: main100?.lagMs.p50 ?? null,
    lag_p99_ms: main100?.lagMs.p99 ?? null,
    write_p99_ratio: results.latency?.p99Ratio ?? null,
    throughput_ratio: results.bulk?.throughputRatio ?? null,
    restore_ratio: results.restore?.restoreRatio ?? null,
    sidecar_rss_mb: rssPeaks.length ? round(Math.max(...rssPeaks), 1) : null,
    idle_requests_per_hour: results.idle?.requestsPerHour ?? null,
  };
  results.headline = h;
  if (results.naive && main100) {
    const dbBytes = results.naive.dbBytes;
    results.naive.walship = {
      recoveryPointP99S: round(main100.lagMs.p99 / 1000, 3),
      recoveryPointMaxS: round(main100.lagMs.max / 1000, 3),
      // Shipped at 100 tx/s (every level), plus the daily snapshot of this database spread per hour.
      bytesPerHour: main100.bytesPerHourAllLevels + Math.round(dbBytes / 24),
    };
  }
  results.goalsMet = Object.fromEntries(Object.keys(GOALS).map((k) => [k, goalMet(k, h[k])]));
  results.elapsedS = round((Date.now() - started) / 1000, 0);

  // Table.
  const lines = [];
  lines.push('');
  lines.push(`walship bench (${results.mode}, ${REPLICA_TYPE} replica) — ${results.machine}`);
  if (results.lag) {
    lines.push('');
    lines.push('Replication lag (commit -> LTX renamed on the replica)');
    lines.push(
      table([
        ['rate tx/s', 'achieved', 'sync', 'tx', 'files', 'tx/file', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'capture p50/p99', 'ship p50/p99', 'p99 by fifth', 'unshipped', 'bytes/h', 'RSS MB'],
        ...results.lag.scenarios.map((s) => [
          s.rate,
          s.achievedRate,
          s.syncInterval,
          s.transactions,
          s.l0Files,
          s.txPerFile,
          f1(s.lagMs.p50),
          f1(s.lagMs.p90),
          f1(s.lagMs.p99),
          f1(s.lagMs.max),
          `${f1(s.captureLagMs.p50)}/${f1(s.captureLagMs.p99)}`,
          `${f1(s.shipLagMs.p50)}/${f1(s.shipLagMs.p99)}`,
          s.lagP99ByFifthMs.join('/'),
          s.unshipped,
          `${f1(s.bytesPerHourAllLevels / MB)} MB`,
          f1(s.peakRssMb),
        ]),
      ]),
    );
  }
  if (results.latency) {
    const l = results.latency;
    lines.push('');
    lines.push(`App commit latency at ${l.rate} tx/s, ${l.rounds} interleaved rounds each`);
    lines.push(
      table([
        ['', 'p50 ms', 'p99 ms', 'max ms', 'commits'],
        ['without walship', f1(l.withoutMs.p50, 3), f1(l.withoutMs.p99, 3), f1(l.withoutMs.max, 2), l.withoutMs.n],
        ['with walship', f1(l.withMs.p50, 3), f1(l.withMs.p99, 3), f1(l.withMs.max, 2), l.withMs.n],
        ['ratio', f1(l.p50Ratio, 2), f1(l.p99Ratio, 2), '', ''],
      ]),
    );
  }
  if (results.bulk) {
    const b = results.bulk;
    lines.push('');
    lines.push(
      `Bulk load ${f1(b.bytesInserted / MB, 0)} MB: writer done at ${f1(b.writerMs / 1000, 2)} s, last level-0 file staged at ${f1(b.capturedByMs / 1000, 2)} s, last upload done at ${f1(b.endToEndMs / 1000, 2)} s (${b.l0FilesStaged} level-0 files, ${b.uploads} uploads)`,
    );
    lines.push(
      table([
        ['', 'MB', 'seconds', 'MB/s'],
        ['walship upload (busy time)', f1(b.bytesShipped / MB), f1(b.uploadBusyMs / 1000, 2), f1(b.walshipMBs)],
        ['walship end to end (level 0)', f1(b.endToEndBytes / MB), f1(b.endToEndMs / 1000, 2), f1(b.endToEndMBs)],
        ['raw sftp put -f', f1(b.bytesShipped / MB), b.raw ? f1((b.raw.putMs - b.raw.connectMs) / 1000, 2) : 'n/a', b.raw ? f1(b.raw.mbPerS) : 'n/a'],
      ]),
    );
  }
  if (results.restore) {
    const r = results.restore;
    lines.push('');
    lines.push(`Restore (${r.files} files, ${f1(r.bytesRead / MB)} MB read, matches source: ${r.matchesSource})`);
    lines.push(
      table([
        ['', 'seconds'],
        ['walship restore', f1(r.walshipMs / 1000, 2)],
        ['raw sftp get -f', r.raw ? f1(r.raw.getMs / 1000, 2) : 'n/a'],
      ]),
    );
  }
  if (results.idle) {
    const i = results.idle;
    lines.push('');
    if (i.afterWrites) {
      lines.push(
        `After the writes stopped: ${i.afterWrites.requests} SFTP requests in ${f1(i.afterWrites.windowMs / 1000)} s until the level-1 compaction was shipped ${JSON.stringify(i.afterWrites.requestsByType)}`,
      );
    }
    lines.push(`Idle: ${i.requests} SFTP requests in ${f1(i.idleMs / 1000)} s ${JSON.stringify(i.requestsByType)} -> ${i.requestsPerHour}/h`);
  }
  if (results.naive) {
    const n = results.naive;
    lines.push('');
    lines.push(`Naive baseline on a ${f1(n.dbBytes / MB, 0)} MB database: sqlite3 .backup + sftp put every ${n.intervalS} s`);
    lines.push(`  .backup under 100 tx/s: ${n.underLoad.completed ? `${n.underLoad.ms} ms` : `never finished within ${n.underLoad.timeoutMs / 1000} s`}; idle cycle ${f1(n.cycleMs / 1000, 2)} s (backup ${f1(n.backupMs / 1000, 2)} s + put ${f1(n.putMs / 1000, 2)} s)`);
    lines.push(
      table([
        ['', 'worst-case data loss', 'bytes sent per hour'],
        [`naive every ${n.intervalS} s`, `${n.recoveryPointWorstS} s`, `${f1(n.bytesPerHour / MB, 0)} MB`],
        ...(n.walship ? [['walship, 100 tx/s, sync 0s', `${n.walship.recoveryPointP99S} s (p99), ${n.walship.recoveryPointMaxS} s (max)`, `${f1(n.walship.bytesPerHour / MB, 1)} MB`]] : []),
      ]),
    );
  }
  lines.push('');
  lines.push('Goals');
  lines.push(
    table([
      ['figure', 'value', 'goal', 'met'],
      ...Object.entries(GOALS).map(([k, g]) => [k, h[k] ?? 'n/a', 'le' in g ? `<= ${g.le}` : `>= ${g.ge}`, results.goalsMet[k] === null ? 'n/a' : results.goalsMet[k] ? 'yes' : 'NO']),
    ]),
  );
  lines.push(`elapsed ${results.elapsedS} s`);
  process.stdout.write(`${lines.join('\n')}\n`);

  if (!QUICK && !ONLY && !LAG_OVERRIDE) {
    const resDir = path.join(HERE, 'results');
    mkdirSync(resDir, { recursive: true });
    const stem = path.join(resDir, results.date.slice(0, 10));
    await fsp.writeFile(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
    await fsp.writeFile(`${stem}.svg`, renderSvg(results));
    process.stdout.write(`results: ${path.relative(ROOT, stem)}.json, ${path.relative(ROOT, stem)}.svg\n`);
  }
  // Every run's details, for a look after a quick or partial run.
  const last = path.join(os.tmpdir(), 'walship-bench-last.json');
  await fsp.writeFile(last, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`details: ${last}\n`);
  const extra = { idle_requests_after_writes: results.idle?.afterWrites?.requests ?? null };
  process.stdout.write(`${JSON.stringify({ mode: results.mode, replica: REPLICA_TYPE, ...h, ...extra, goals_met: results.goalsMet })}\n`);
}

main()
  .then(cleanup)
  .then(() => {
    // Nothing should be left to wait for; if a stray timer is, do not let it hold the exit.
    setTimeout(() => process.exit(0), 2000).unref();
  })
  .catch(async (err) => {
    log(`FAILED: ${err?.stack ?? err}`);
    await cleanup();
    process.stdout.write(`${JSON.stringify({ error: String(err?.message ?? err).slice(0, 500) })}\n`);
    process.exit(1);
  });
