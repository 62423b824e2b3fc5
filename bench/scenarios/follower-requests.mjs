// What an idle follower costs (issue 12): `walship restore -f` at the default follow interval (1 s)
// against a replica nobody writes to, over SFTP and over S3, counted at the server.
// - SFTP: the audit sshd (sftp-server at DEBUG3 logs one line per request it receives).
// - S3: versitygw's access log (one line per request), the follower's bucket only.
// A walship primary replicates a fresh database (20 rows, then 50 more) and is stopped cleanly;
// then the follower restores, reports "started", is given 3 s to settle, and its requests are
// counted over the idle window (20 s quick, 60 s full), scaled to an hour.
import path from 'node:path';
import { runLoadWriter } from '../../test/kit/writer.mjs';
import { sleep, waitFor } from '../../test/kit/wait.mjs';
import { waitForMarker } from '../lib/ltxscan.mjs';
import { Sidecar } from '../lib/sidecar.mjs';
import { walshipNodeArgs } from '../lib/walship.mjs';
import { now, round } from '../lib/stats.mjs';
import { countByType, Versitygw } from '../lib/versitygw.mjs';
import { ROOT } from '../context.mjs';
import { bucketQuiet, startS3Sidecar } from './s3-requests.mjs';

const BUCKET = 'follow-bench';
const SETTLE_MS = 3_000;

/** `walship restore -f -config CFG -o OUT DB`, started and caught up. */
async function startFollower(b, cfg, db, out, env) {
  const f = new Sidecar('walship-follower', process.execPath, [...walshipNodeArgs(b.dist), 'restore', '-f', '-config', cfg, '-o', out, db], { env });
  b.cleanups.push(() => f.running && f.proc.kill('SIGKILL'));
  f.spawn();
  const ok = await waitFor(() => !f.running || f.lines.some((l) => l.line.includes('"event":"started"')), 30_000, 50);
  if (!ok || !f.running) throw new Error(`the follower did not start: exit ${f.exitCode}\n${f.tail(30)}`);
  return f;
}

/** A primary's history: 20 rows, the sidecar, 50 more; returns once they are on the replica. */
async function writeHistory(b, dir, start, caughtUp) {
  const db = b.dbOf(dir);
  await runLoadWriter({ db, mode: 'init', warmup: 20, from: 1 }, 30_000);
  const primary = await start();
  const wr = await runLoadWriter({ db, mode: 'rate', rate: 50, durationMs: 1000, from: 21 }, 30_000);
  if (!(await caughtUp(wr.lastN))) throw new Error(`follower scenario: the primary did not ship its writes:\n${primary.tail(30)}`);
  const stop = await primary.stop(30_000);
  if (stop.exitCode !== 0) throw new Error(`follower scenario: the primary exited ${stop.exitCode}:\n${primary.tail(30)}`);
  return db;
}

async function idleWindow(idleMs, count) {
  await sleep(SETTLE_MS);
  const mark = await count.mark();
  const t0 = now();
  await sleep(idleMs);
  const windowMs = now() - t0;
  const { total, byType } = await count.since(mark);
  return { windowMs: round(windowMs, 0), requests: total, requestsByType: byType, requestsPerHour: round((total * 3_600_000) / windowMs, 0) };
}

async function sftpFollower(b, idleMs) {
  const dir = await b.scenarioDir('follow-sftp');
  const l0 = b.l0Of(dir);
  const db = await writeHistory(b, dir, () => b.startSidecar(dir, 'walship-default', { server: b.audit }), (n) => waitForMarker(b.dist, l0, n, 30_000));
  const f = await startFollower(b, path.join(dir, 'walship.yml'), db, path.join(dir, 'follower.db'), process.env);
  try {
    return await idleWindow(idleMs, {
      mark: () => b.audit.mark(),
      since: async (m) => {
        const reqs = await b.audit.requestsSince(m);
        const byType = {};
        for (const r of reqs) byType[r.type] = (byType[r.type] ?? 0) + 1;
        return { total: reqs.length, byType };
      },
    });
  } finally {
    await f.stop(15_000);
  }
}

async function s3Follower(b, idleMs) {
  const gw = await Versitygw.start(ROOT, await b.scenarioDir('follow-s3-server'), [BUCKET]);
  b.cleanups.push(() => gw.stop());
  try {
    const dir = await b.scenarioDir('follow-s3');
    let primary;
    const db = await writeHistory(
      b,
      dir,
      async () => (primary = await startS3Sidecar(b, gw, 'walship', dir, { bucket: BUCKET })),
      () => bucketQuiet(gw, BUCKET, { quietMs: 2_000, maxMs: 30_000 }),
    );
    const f = await startFollower(b, primary.configPath, db, path.join(dir, 'follower.db'), gw.env());
    try {
      return await idleWindow(idleMs, { mark: () => gw.mark(), since: async (m) => countByType(await gw.linesSince(m), BUCKET) });
    } finally {
      await f.stop(15_000);
    }
  } finally {
    await gw.stop();
  }
}

export async function followerScenario(b, { idleMs }) {
  b.log(`follower: restore -f at the default interval (1s) on an idle replica, ${idleMs / 1000}s over SFTP and over S3, requests counted at the server`);
  const out = { intervalMs: 1000, sftp: null, s3: null };
  if (b.audit) {
    out.sftp = await sftpFollower(b, idleMs);
    b.log(`  sftp: ${out.sftp.requests} requests in ${(out.sftp.windowMs / 1000).toFixed(1)} s -> ${out.sftp.requestsPerHour}/h ${JSON.stringify(out.sftp.requestsByType)}`);
  }
  out.s3 = await s3Follower(b, idleMs);
  b.log(`  s3: ${out.s3.requests} requests in ${(out.s3.windowMs / 1000).toFixed(1)} s -> ${out.s3.requestsPerHour}/h ${JSON.stringify(out.s3.requestsByType)}`);
  return out;
}
