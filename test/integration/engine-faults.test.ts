// Faults and edge cases of the engine with real processes: kill -9, checkpoints while walship is
// down, point-in-time restore, corrupt and missing replica files, and silence while idle.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { listTree, ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, startWriter } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function restoreTo(out: string, replica: string, ...flags: string[]) {
  return runWalship(['restore', ...flags, '-o', out, `file://${replica}`]);
}

describe('kill -9 of the replicator', () => {
  it('loses nothing, even with the application checkpointing (TRUNCATE) while it is down', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    let walship = startWalship(['replicate', '-config', config]);
    const writer = startWriter('node', { db, from: 1, to: 400, payload: 'small', autocheckpoint: 10, truncateEvery: 5, delayMs: 8 });
    await walship.waitForEvent('full_capture');
    await sleep(800);
    expect(await walship.stop('SIGKILL')).toBe(null);
    const atKill = writer.commits.length;
    await sleep(1200); // the writer goes on, truncating the WAL with nobody pinning it
    expect(writer.commits.length).toBeGreaterThan(atKill);
    walship = startWalship(['replicate', '-config', config]);
    await writer.done();
    expect(await walship.stop()).toBe(0);
    // The WAL was truncated while walship was away, so continuity could not be proven: a full capture.
    expect(walship.logs()).toContain('"event":"full_capture"');
    const out = path.join(dir, 'restored.db');
    const r = await restoreTo(out, replica);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(400);
    expect(dump(out)).toBe(dump(db));
  });
});

describe('point-in-time restore', () => {
  it('-timestamp gives exactly the transactions committed before it', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    const commits = await runWriter('python', { db, from: 1, to: 30, payload: 'small', pauseAfter: [10, 20], pauseMs: 3000 });
    expect(await walship.stop()).toBe(0);
    const between = (a: number): string => new Date((commits[a - 1]!.t + commits[a]!.t) / 2).toISOString();
    for (const [cut, expected] of [
      [10, 10],
      [20, 20],
    ] as const) {
      const out = path.join(dir, `at-${cut}.db`);
      const r = await restoreTo(out, replica, '-timestamp', between(cut));
      expect(r.stderr).toBe('');
      expect(checkRestored(out, 'small').k).toBe(expected);
    }
    // A time before the first backup cannot be restored, and says so.
    const early = await restoreTo(path.join(dir, 'early.db'), replica, '-timestamp', new Date(commits[0]!.t - 60_000).toISOString());
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/nothing to restore|no snapshot/);
    expect(existsSync(path.join(dir, 'early.db'))).toBe(false);
  });

  it('-txid gives exactly the state after that TXID', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 12, payload: 'small', delayMs: 150 });
    expect(await walship.stop()).toBe(0);
    const l0 = ltxFiles(replica, 0);
    expect(l0.length).toBeGreaterThan(3);
    const restoredCounts: number[] = [];
    for (let txid = 1; txid <= l0.length; txid++) {
      const out = path.join(dir, `tx-${txid}.db`);
      const r = await restoreTo(out, replica, '-txid', String(txid));
      expect(r.stderr).toBe('');
      restoredCounts.push(transactionsAt(out));
    }
    // Each TXID adds what one capture saw: never fewer transactions than the one before.
    expect([...restoredCounts].sort((a, b) => a - b)).toEqual(restoredCounts);
    expect(restoredCounts[restoredCounts.length - 1]).toBe(12);
    const beyond = await restoreTo(path.join(dir, 'beyond.db'), replica, '-txid', String(l0.length + 5));
    expect(beyond.code).toBe(1);
    expect(beyond.stderr).toContain('not reachable');
  });
});

/**
 * Transactions 1..k a restored state holds. The first TXIDs may come before the writer's first
 * transaction: walship can capture the database as soon as it exists, and the writer creates its
 * tables one statement (one commit) at a time. Such a state holds no transaction, and only an
 * order-prefix of those tables, empty; anything else goes to the oracle.
 */
function transactionsAt(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  let tables: string;
  try {
    tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid").all() as Array<{ name: string }>).map((t) => t.name).join(',');
    if (tables === 'tx,meta,filler') return checkRestored(file, 'small').k;
    expect(['', 'tx', 'tx,meta'], `${file}: tables ${tables}`).toContain(tables);
    if (tables !== '') expect(db.prepare('SELECT count(*) AS n FROM tx').get(), file).toEqual({ n: 0 });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return 0;
  } finally {
    db.close();
  }
}

describe('a damaged replica', () => {
  async function replicated(): Promise<Workdir> {
    const w = makeWorkdir();
    const walship = startWalship(['replicate', '-config', w.config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db: w.db, from: 1, to: 20, payload: 'small', delayMs: 40 });
    expect(await walship.stop()).toBe(0);
    return w;
  }

  it('fails loudly on one flipped byte, naming the file, and writes nothing', async () => {
    work = await replicated();
    const { replica, dir } = work;
    const targets = [ltxFiles(replica, 0).at(-1)!, ltxFiles(replica, 9).at(-1)!];
    for (const file of targets) {
      const original = readFileSync(file);
      for (const at of [10, 60, Math.floor(original.length / 2), original.length - 20, original.length - 3]) {
        const bad = Buffer.from(original);
        bad[at] = bad[at]! ^ 0x40;
        writeFileSync(file, bad);
        const out = path.join(dir, 'out.db');
        const r = await restoreTo(out, replica);
        expect(r.code, `flip at ${at} of ${file}`).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain(path.basename(file));
        expect(existsSync(out)).toBe(false);
        expect(existsSync(`${out}.tmp`)).toBe(false);
      }
      writeFileSync(file, original);
    }
    const ok = await restoreTo(path.join(dir, 'ok.db'), replica);
    expect(ok.code).toBe(0);
    expect(checkRestored(path.join(dir, 'ok.db'), 'small').k).toBe(20);
  });

  it('refuses a chain with a missing file instead of restoring less', async () => {
    work = await replicated();
    const { replica, dir } = work;
    const l0 = ltxFiles(replica, 0);
    expect(l0.length).toBeGreaterThan(3);
    rmSync(l0[2]!);
    const out = path.join(dir, 'out.db');
    const r = await restoreTo(out, replica);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/gap in the replica/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('restore guards', () => {
  it('never overwrites, and -if-db-not-exists / -if-replica-exists succeed without writing', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    // Empty replica: -if-replica-exists exits 0 and creates nothing.
    const empty = await runWalship(['restore', '-if-replica-exists', '-o', path.join(dir, 'x.db'), `file://${replica}`]);
    expect(empty.code).toBe(0);
    expect(existsSync(path.join(dir, 'x.db'))).toBe(false);
    const noFlag = await runWalship(['restore', '-o', path.join(dir, 'x.db'), `file://${replica}`]);
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toContain('no backup found');

    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('python', { db, from: 1, to: 5, payload: 'small' });
    expect(await walship.stop()).toBe(0);

    // The database exists: restore by DB path from the config refuses, unless told to skip.
    const before = readFileSync(db);
    const refused = await runWalship(['restore', '-config', config, db]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refusing to overwrite');
    const skipped = await runWalship(['restore', '-config', config, '-if-db-not-exists', db]);
    expect(skipped.code).toBe(0);
    expect(readFileSync(db).equals(before)).toBe(true);

    // Restoring by DB path into a fresh location, with both flags as the init container uses them.
    rmSync(db);
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    const init = await runWalship(['restore', '--config', config, '--if-db-not-exists', '--if-replica-exists', db]);
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(checkRestored(db, 'small').k).toBe(5);
  });

  it('reports usage and config errors with exit status 2 on one line', async () => {
    work = makeWorkdir();
    const missing = await runWalship(['replicate', '-config', path.join(work.dir, 'nope.yml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('nope.yml');
    const unknownFlag = await runWalship(['restore', '-bogus', 'x']);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain('-bogus');
    const badLevel = await runWalship(['ltx', '-level', '7', `file://${work.replica}`]);
    expect(badLevel.code).toBe(2);
    const badTime = await runWalship(['restore', '-timestamp', 'yesterday', '-o', path.join(work.dir, 'o.db'), `file://${work.replica}`]);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('RFC 3339');
  });
});

describe('an idle database', () => {
  it('causes no new files and no uploads', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config], { LOG_LEVEL: 'debug' });
    await runWriter('node', { db, from: 1, to: 10, payload: 'small' });
    // Wait until everything has settled (bounded), then watch a quiet window.
    let previous = '';
    for (let i = 0; i < 40; i++) {
      await sleep(500);
      const now = JSON.stringify([listTree(replica), listTree(path.join(dir, '.app.db-walship'))]);
      if (now === previous) break;
      previous = now;
    }
    const replicaBefore = listTree(replica);
    const stagingBefore = listTree(path.join(dir, '.app.db-walship'));
    const uploadsBefore = walship.logs().split('"event":"uploaded"').length;
    await sleep(3500); // several monitor ticks and pin refreshes
    expect(listTree(replica)).toEqual(replicaBefore);
    expect(listTree(path.join(dir, '.app.db-walship'))).toEqual(stagingBefore);
    expect(walship.logs().split('"event":"uploaded"').length).toBe(uploadsBefore);
    expect(await walship.stop()).toBe(0);
  });
});

describe('the database deleted and created again', () => {
  it('is noticed, captured whole, and restores as the new database', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 20, payload: 'small', delayMs: 10 });
    await sleep(500);
    for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
    await walship.waitForEvent('database_replaced');
    await runWriter('python', { db, from: 1, to: 8, payload: 'small', delayMs: 10 });
    expect(await walship.stop()).toBe(0);
    expect(walship.logs()).toContain('"reason":"database file was replaced"');
    const out = path.join(dir, 'out.db');
    const r = await restoreTo(out, replica);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(8);
    expect(dump(out)).toBe(dump(db));
  });
});

describe('a restart after a clean stop', () => {
  it('continues without a full capture when the database is as walship left it', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    let walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 30, payload: 'small', delayMs: 5 });
    expect(await walship.stop()).toBe(0);
    walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('resumed_clean_stop');
    await runWriter('python', { db, from: 31, to: 60, payload: 'small', delayMs: 5 });
    expect(await walship.stop()).toBe(0);
    expect(walship.logs()).not.toContain('"event":"full_capture"');
    const out = path.join(dir, 'out.db');
    expect((await restoreTo(out, replica)).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(60);
    expect(dump(out)).toBe(dump(db));
  });

  it('notices a change made while it was stopped even when its last capture found no WAL', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    // Written and closed before walship ever runs: SQLite removes the WAL on the last close, so the
    // first capture reads the database file alone.
    await runWriter('node', { db, from: 1, to: 20, payload: 'small' });
    let walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('full_capture');
    expect(await walship.stop()).toBe(0);
    await runWriter('python', { db, from: 21, to: 25, payload: 'small' }); // nobody watching; WAL gone again
    walship = startWalship(['replicate', '-config', config]);
    const second = await walship.waitForEvent('full_capture');
    expect(second.reason).toBe('database may have changed while walship was not watching');
    expect(await walship.stop()).toBe(0);
    expect(walship.logs()).toContain('"event":"changed_since_clean_stop"');
    const out = path.join(dir, 'out.db');
    expect((await restoreTo(out, replica)).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(25);
    expect(dump(out)).toBe(dump(db));
  });

  it('captures everything again when the database changed while walship was stopped', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    let walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 20, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    await runWriter('python', { db, from: 21, to: 25, payload: 'small' }); // nobody watching
    walship = startWalship(['replicate', '-config', config], {});
    await walship.waitForEvent('full_capture');
    expect(await walship.stop()).toBe(0);
    expect(walship.logs()).toContain('"event":"changed_since_clean_stop"');
    const out = path.join(dir, 'out.db');
    expect((await restoreTo(out, replica)).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(25);
    expect(dump(out)).toBe(dump(db));
  });
});
