// restore -f: a follower kept current from a replica while a reader process polls it the whole
// time. Every read must be a committed state: a contiguous prefix of the writer's transactions,
// never going backwards, integrity_check ok. Over a directory and over SFTP (real sshd), then a
// follower that fell behind retention recovers by snapshot with the reader still watching.
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ltxFiles } from '../helpers/files.js';
import { startReader, type ReaderSummary } from '../helpers/follow-reader.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { freePort } from '../helpers/ports.js';
import { runWalship, runWriter, startWalship, startWriter, type WalshipProcess } from '../helpers/processes.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let sshd: Sshd | null = null;
const procs: WalshipProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop('SIGKILL').catch(() => undefined);
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function walship(args: string[]): WalshipProcess {
  const p = startWalship(args);
  procs.push(p);
  return p;
}

interface FollowerStatusRow {
  db: string;
  txid: number;
  replicas: Array<{ txid: number; lagSeconds: number }>;
}

async function followerStatus(port: number): Promise<FollowerStatusRow> {
  const res = await fetch(`http://127.0.0.1:${port}/status`);
  return ((await res.json()) as FollowerStatusRow[])[0]!;
}

/** Waits (bounded) until the follower reports `txid`; returns what it last reported. */
async function waitForTxid(port: number, txid: number, timeoutMs = 60_000): Promise<number> {
  let seen = -1;
  for (let i = 0; i < timeoutMs / 100; i++) {
    seen = (await followerStatus(port).catch(() => ({ txid: -1 }) as FollowerStatusRow)).txid;
    if (seen >= txid) break;
    await sleep(100);
  }
  return seen;
}

function replicaMaxTxid(root: string): number {
  let max = 0;
  for (const level of [0, 1, 2, 3, 9]) for (const f of ltxFiles(root, level)) max = Math.max(max, Number.parseInt(path.basename(f).slice(17, 33), 16));
  return max;
}

function expectCleanReads(s: ReaderSummary, minReads: number, finalK: number): void {
  expect(s.violations, s.violations.join('\n')).toEqual([]);
  expect(s.hotJournal, 'reads refused by a hot journal, with no follower killed').toBe(0);
  expect(s.reads).toBeGreaterThanOrEqual(minReads);
  for (let i = 1; i < s.ks.length; i++) expect(s.ks[i]!).toBeGreaterThanOrEqual(s.ks[i - 1]!);
  expect(s.ks.at(-1)).toBe(finalK);
  // The reader saw the follower move, not one state.
  expect(new Set(s.ks).size).toBeGreaterThan(10);
}

/**
 * The primary replicates while a Python writer commits, checkpoints (TRUNCATE every 40) and
 * VACUUMs; the follower follows `source`; the reader polls it throughout.
 */
async function followWhileWriting(w: Workdir, replicaRoot: string, followArgs: string[]): Promise<void> {
  const primary = walship(['replicate', '-config', w.config]);
  await runWriter('python', { db: w.db, from: 1, to: 20, payload: 'small', delayMs: 10 });
  for (let i = 0; i < 100 && replicaMaxTxid(replicaRoot) === 0; i++) await sleep(100);
  const out = path.join(w.dir, 'follower.db');
  const port = await freePort();
  const follower = walship(['restore', '-f', '-follow-interval', '200ms', '-addr', `127.0.0.1:${port}`, '-o', out, ...followArgs]);
  await follower.waitForEvent('started', 60_000);
  const reader = startReader({ db: out, stopFile: path.join(w.dir, 'stop-reader'), payload: 'small', minReads: 300, maxSeconds: 240 });
  await runWriter('python', { db: w.db, from: 21, to: 400, payload: 'small', autocheckpoint: 50, truncateEvery: 40, vacuumAt: 200, delayMs: 25 }, 180_000);
  expect(await primary.stop()).toBe(0);
  const last = replicaMaxTxid(replicaRoot);
  expect(await waitForTxid(port, last)).toBe(last);
  const summary = await reader.stop();
  // Caught up: ready, lag known, the replica's TXID reported.
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  expect(ready.status).toBe(200);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`walship_follower_txid\\{db="[^"]+"\\} ${last}\\b`));
  expect(metrics).toMatch(new RegExp(`walship_follower_replica_txid\\{[^}]+\\} ${last}\\b`));
  expect(metrics).toMatch(/walship_follower_lag_seconds\{[^}]+\} \d/);
  // walship status asks the follower on addr and prints its row.
  const statusConfig = path.join(w.dir, 'status.yml');
  writeFileSync(statusConfig, `addr: 127.0.0.1:${port}\ndbs:\n  - path: ${out}\n    replicas:\n      - url: file://${w.dir}/unused\n`);
  const st = await runWalship(['status', '-config', statusConfig, '-json']);
  expect(st.code, st.stderr).toBe(0);
  const report = JSON.parse(st.stdout) as { source: string; dbs: FollowerStatusRow[] };
  expect(report.source).toBe('replicator');
  expect(report.dbs[0]).toMatchObject({ db: out, txid: last, replicas: [{ txid: last }] });
  expect(await follower.stop()).toBe(0);
  expectCleanReads(summary, 300, 400);
  expect(checkRestored(out, 'small').k).toBe(400);
  expect(dump(out)).toBe(dump(w.db));
}

describe('restore -f (follow)', () => {
  it('over a directory: every read of a live follower is a committed prefix, through checkpoints and VACUUM', async () => {
    work = makeWorkdir();
    await followWhileWriting(work, work.replica, [`file://${work.replica}`]);
  }, 300_000);

  it('over SFTP (real sshd): the same, with the follower reading the config\'s replica', async () => {
    work = makeWorkdir();
    sshd = await Sshd.start();
    const remote = path.join(work.dir, 'remote');
    writeFileSync(
      work.config,
      `dbs:
  - path: ${work.db}
    replicas:
      - url: sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}
        name: offsite
        sync-interval: 0s
        key-path: ${sshd.clientKey.privateKeyPath}
        host-key: "${sshd.hostKeyLine}"
`,
    );
    await followWhileWriting(work, remote, ['-config', work.config, work.db]);
  }, 300_000);

  it('resumes from its position with -if-db-not-exists, and recovers by snapshot after falling behind retention', async () => {
    work = makeWorkdir(
      `levels:
  - interval: 1s
l0-retention: 1s
`,
      `        retention: 2s
        retention-check-interval: 1s
        snapshot-interval: 1s
`,
    );
    const w = work;
    const primary = walship(['replicate', '-config', w.config]);
    await runWriter('python', { db: w.db, from: 1, to: 30, payload: 'small', delayMs: 20 });
    for (let i = 0; i < 100 && replicaMaxTxid(w.replica) === 0; i++) await sleep(100);
    const out = path.join(w.dir, 'follower.db');
    const port = await freePort();
    const args = ['restore', '-f', '-if-db-not-exists', '-follow-interval', '200ms', '-addr', `127.0.0.1:${port}`, '-o', out, `file://${w.replica}`];
    const first = walship(args);
    await first.waitForEvent('started', 60_000);
    const reader = startReader({ db: out, stopFile: path.join(w.dir, 'stop-reader'), payload: 'small', minReads: 300, maxSeconds: 240 });
    await runWriter('python', { db: w.db, from: 31, to: 80, payload: 'small', delayMs: 20 });
    const mid = replicaMaxTxid(w.replica);
    expect(await waitForTxid(port, mid)).toBeGreaterThanOrEqual(mid);
    expect(await first.stop()).toBe(0);
    const stoppedAt = checkRestored(out, 'small').k;
    expect(existsSync(path.join(w.dir, '.follower.db-walship-follow', 'position.json'))).toBe(true);

    // While the follower is stopped the primary goes on, and retention removes what would continue it.
    await runWriter('python', { db: w.db, from: 81, to: 200, payload: 'small', delayMs: 40, vacuumAt: 150 });
    await sleep(4000);
    const l0 = ltxFiles(w.replica, 0).map((f) => Number.parseInt(path.basename(f).slice(0, 16), 16));
    const l1 = ltxFiles(w.replica, 1).map((f) => Number.parseInt(path.basename(f).slice(0, 16), 16));
    expect(Math.min(...l0, ...l1), 'retention removed the files after the follower stopped').toBeGreaterThan(stoppedAt + 1);

    const second = walship(args);
    await second.waitForEvent('follow_resumed', 60_000);
    await second.waitForEvent('follow_resync', 60_000);
    await runWriter('python', { db: w.db, from: 201, to: 240, payload: 'small', delayMs: 20 });
    expect(await primary.stop()).toBe(0);
    const last = replicaMaxTxid(w.replica);
    expect(await waitForTxid(port, last)).toBe(last);
    const summary = await reader.stop();
    expect(await second.stop()).toBe(0);
    expectCleanReads(summary, 300, 240);
    expect(summary.ks).toContain(stoppedAt);
    expect(checkRestored(out, 'small').k).toBe(240);
    expect(dump(out)).toBe(dump(w.db));
  }, 300_000);
});

describe('restore -f killed mid-apply', () => {
  it('kill -9 of the follower over and over: readers never see a torn state, and the restarted follower rolls back and goes on', async () => {
    work = makeWorkdir();
    const w = work;
    const primary = walship(['replicate', '-config', w.config]);
    await runWriter('python', { db: w.db, from: 1, to: 10, payload: 'small' });
    for (let i = 0; i < 100 && replicaMaxTxid(w.replica) === 0; i++) await sleep(100);
    const out = path.join(w.dir, 'follower.db');
    const port = await freePort();
    const args = ['restore', '-f', '-if-db-not-exists', '-follow-interval', '100ms', '-addr', `127.0.0.1:${port}`, '-o', out, `file://${w.replica}`];
    const first = walship(args);
    await first.waitForEvent('started', 60_000);
    const reader = startReader({ db: out, stopFile: path.join(w.dir, 'stop-reader'), payload: 'small', minReads: 100, maxSeconds: 240, pauseMs: 5 });
    const writer = startWriter('python', { db: w.db, from: 11, to: 2000, payload: 'small', delayMs: 2, vacuumAt: 1000 });
    let journalsLeft = 0;
    let current = first;
    for (let round = 0; round < 8; round++) {
      await sleep(400 + round * 150);
      current.child.kill('SIGKILL');
      await once(current.child, 'exit');
      if (existsSync(`${out}-journal`)) journalsLeft++;
      current = walship(args);
      await current.waitForEvent('follow_resumed', 60_000);
    }
    await writer.done(180_000);
    expect(await primary.stop()).toBe(0);
    const last = replicaMaxTxid(w.replica);
    const got = await waitForTxid(port, last);
    // On a failure the follower's last lines are in the assertion's message (CI shows that part).
    expect(got, current.logs().split('\n').filter((l) => !l.includes('"level":20')).slice(-15).join('\n')).toBe(last);
    const summary = await reader.stop();
    expect(await current.stop()).toBe(0);
    // A read-only reader that meets a hot journal (the follower just died) gets an error, never
    // the half-applied pages (counted apart, in hotJournal); anything else is a failure.
    expect(summary.violations, summary.violations.join('\n')).toEqual([]);
    expect(summary.ks.at(-1)).toBe(2000);
    for (let i = 1; i < summary.ks.length; i++) expect(summary.ks[i]!).toBeGreaterThanOrEqual(summary.ks[i - 1]!);
    expect(checkRestored(out, 'small').k).toBe(2000);
    expect(dump(out)).toBe(dump(w.db));
    console.log(`follower kill test: ${journalsLeft} of 8 kills left a hot journal; ${summary.reads} reads, ${summary.hotJournal} refused while a journal was hot`);
  }, 300_000);
});
