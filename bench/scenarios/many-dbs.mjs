// Many small databases in one sidecar (issue 15): N idle WAL-mode databases in one directory,
// replicated in directory mode (`dir`, `pattern: "*.db"`, `watch: true`), each to
// <replica>/<its name> under one server (the audit sshd, so every SFTP request is counted; or
// file://). Measured from outside: the time from spawn until the last database's first capture is on
// its replica, the SSH connections sshd accepted, then over an idle window the sidecar's CPU
// seconds, its RSS and the SFTP requests; last, the time until a database created in the directory
// while walship runs is on its replica after its first commit.
import { execFile } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../test/kit/ports.mjs';
import { sleep, waitFor } from '../../test/kit/wait.mjs';
import { memOf } from '../../test/kit/procs.mjs';
import { now, round } from '../lib/stats.mjs';
import { Walship } from '../lib/walship.mjs';

const run = promisify(execFile);

// One process creates every database (WAL mode, one table, one row), so the bench process itself
// never holds a SQLite connection to them.
const CREATE_PY = `
import sqlite3, sys
for p in sys.argv[1:]:
    c = sqlite3.connect(p)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    c.execute("INSERT INTO t (v) VALUES ('hello')")
    c.commit()
    c.close()
`;

export async function createDatabases(paths) {
  for (let i = 0; i < paths.length; i += 200) {
    await run('python3', ['-c', CREATE_PY, ...paths.slice(i, i + 200)], { timeout: 120_000 });
  }
}

/** Writes a walship config: one directory entry, watched, with one replica root. */
async function writeConfig(file, { dir, replicaRoot, replica, addrPort }) {
  const lines = [`addr: 127.0.0.1:${addrPort}`, 'dbs:', `  - dir: ${dir}`, '    pattern: "*.db"', '    watch: true', '    replicas:'];
  if (replica.type === 'sftp') {
    lines.push(`      - url: ${replica.sshd.sftpUrl(replicaRoot)}`);
    lines.push(`        key-path: ${replica.sshd.clientKey.privateKeyPath}`);
    lines.push(`        host-key: "${replica.sshd.hostKeyLine}"`);
  } else {
    lines.push(`      - url: file://${replicaRoot}`);
  }
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}

const byType = (reqs) => {
  const out = {};
  for (const r of reqs) out[r.type] = (out[r.type] ?? 0) + 1;
  return out;
};

async function hasLtx(dir) {
  const names = await fsp.readdir(dir).catch(() => []);
  return names.some((n) => n.endsWith('.ltx'));
}

/**
 * Waits (bounded by `timeoutMs`, or until `gaveUp()`) until every directory holds an LTX file,
 * checking only those still missing one; returns how many still miss one.
 */
async function missingLtx(dirs, timeoutMs, stepMs, gaveUp = () => false) {
  let pending = dirs;
  await waitFor(
    async () => {
      if (gaveUp()) return true;
      const still = [];
      for (const d of pending) if (!(await hasLtx(d))) still.push(d);
      pending = still;
      return pending.length === 0;
    },
    timeoutMs,
    stepMs,
  );
  return pending.length;
}

/** SSH connections sshd accepted (its VERBOSE log), since `from` lines. */
function acceptedSince(sshd, from) {
  return sshd.logs.split('\n').slice(from).filter((l) => l.includes('Accepted publickey')).length;
}

export async function manyDbsScenario(b, { n, idleMs, startTimeoutMs = 600_000, settleLevel2Ms = 0 }) {
  const server = b.audit ?? null;
  const replicaType = server ? 'sftp' : 'file';
  b.log(`many-dbs: ${n} idle databases, ${replicaType} replicas, ${idleMs / 1000}s idle`);
  const dir = await b.scenarioDir('many-dbs');
  const app = path.join(dir, 'app');
  const dbs = Array.from({ length: n }, (_, i) => path.join(app, `db${String(i).padStart(4, '0')}.db`));
  const late = path.join(app, 'late.db');
  // Directory mode: each database goes to <replica root>/<its path relative to the directory>.
  const replicaRoot = path.join(dir, 'replica');
  const replicaOf = (db) => path.join(replicaRoot, path.relative(app, db));
  await createDatabases(dbs);
  const addrPort = await freePort();
  const cfg = path.join(dir, 'walship.yml');
  await writeConfig(cfg, { dir: app, replicaRoot, replica: server ? { type: 'sftp', sshd: server } : { type: 'file' }, addrPort });

  const logFrom = server ? server.logs.split('\n').length : 0;
  const markStart = server ? await server.mark() : 0;
  const s = new Walship(b.dist, cfg, addrPort, { logLevel: 'warn' });
  b.cleanups.push(() => s.running && s.proc.kill('SIGKILL'));
  const t0 = now();
  s.spawn();
  // Started: every database's first capture is on its replica.
  const startPending = await missingLtx(dbs.map((db) => path.join(replicaOf(db), 'ltx', '0')), startTimeoutMs, 250, () => !s.running);
  const startupMs = now() - t0;
  if (!s.running) throw new Error(`many-dbs: walship exited (${s.exitCode}):\n${s.tail(30)}`);
  if (startPending > 0) throw new Error(`many-dbs: ${startPending} of ${n} databases not on their replica after ${startTimeoutMs / 1000}s:\n${s.tail(30)}`);
  b.log(`  all ${n} on their replicas ${(startupMs / 1000).toFixed(1)} s after spawn`);
  const connectionsAtStart = server ? acceptedSince(server, logFrom) : null;
  const requestsAtStart = server ? (await server.requestsSince(markStart)).length : null;

  // Idle means after the work the start causes: each database's first level-1 compaction (30 s
  // after its start, by default) is on its replica.
  const unsettled = await missingLtx(dbs.map((db) => path.join(replicaOf(db), 'ltx', '1')), 180_000, 1000);
  if (unsettled > 0) b.log(`  ${unsettled} databases have no level-1 file on their replica yet; measuring anyway`);
  // And, in the full run, the first level-2 compaction (at the default 5 min interval, spread over
  // it): until then, the window would count the start's own work as idle cost.
  const unsettled2 = settleLevel2Ms > 0 ? await missingLtx(dbs.map((db) => path.join(replicaOf(db), 'ltx', '2')), settleLevel2Ms, 2000) : 0;
  if (unsettled2 > 0) b.log(`  ${unsettled2} databases have no level-2 file on their replica yet; measuring anyway`);
  await sleep(3000);
  const mark = server ? await server.mark() : 0;
  const cpu0 = s.cpuSeconds();
  const t1 = now();
  let rssMax = 0;
  const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, memOf(s.pid)?.rssKb ?? 0)), 1000);
  await sleep(idleMs);
  clearInterval(rssTimer);
  const cpuS = s.cpuSeconds() - cpu0;
  const windowMs = now() - t1;
  const rssMb = (memOf(s.pid)?.rssKb ?? 0) / 1024;
  const reqs = server ? await server.requestsSince(mark) : [];
  const requestsPerHour = server ? (reqs.length * 3_600_000) / windowMs : null;
  const cpuSPerMin = (cpuS * 60_000) / windowMs;

  // Pickup: a database created in the watched directory while walship runs.
  const lateL0 = path.join(replicaOf(late), 'ltx', '0');
  await createDatabases([late]);
  const tCommit = now();
  const picked = await waitFor(() => hasLtx(lateL0), 30_000, 10);
  const pickupMs = picked ? now() - tCommit : null;
  const connections = server ? acceptedSince(server, logFrom) : null;
  const stop = await s.stop(300_000);
  const out = {
    n,
    replica: replicaType,
    startupMs: round(startupMs, 0),
    connectionsAtStart,
    connections,
    requestsAtStart,
    settledLevel2: settleLevel2Ms > 0 ? unsettled2 === 0 : null,
    idleMs: round(windowMs, 0),
    idleRequests: server ? reqs.length : null,
    idleRequestsByType: server ? byType(reqs) : null,
    requestsPerHour: requestsPerHour === null ? null : round(requestsPerHour, 0),
    cpuSPerMin: round(cpuSPerMin, 3),
    rssMb: round(rssMb, 1),
    idleRssMaxMb: round(rssMax / 1024, 1),
    peakRssMb: round(stop.peakRssMb, 1),
    pickupMs: pickupMs === null ? null : round(pickupMs, 0),
    exitCode: stop.exitCode,
    graceful: stop.graceful,
  };
  b.log(`  many-dbs: ${JSON.stringify(out)}`);
  if (!existsSync(lateL0)) b.log('  the late database was not picked up within 30 s');
  return out;
}
