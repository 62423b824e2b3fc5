// Directory mode, end to end through real processes: `dbs: - dir:` with `watch` picks up a database
// a separate writer creates while walship runs, lets go of one deleted (replicator stopped, lock
// released, no error loop), warns once about matching files that are not WAL-mode SQLite databases
// and never touches them; `recursive` decides whether subdirectories count. `restore -config F`
// with no DB_PATH then rebuilds every database into an empty directory from the replica's listing
// (and `-dry-run` writes nothing), and the layout is Litestream's both ways: `litestream restore`
// restores a database walship replicated in directory mode, and walship restores the databases
// Litestream replicated in directory mode.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicatorLock } from '../../src/replication/replicator-lock.js';
import { stagingDirOf } from '../../src/config/staging-path.js';
import { runLitestream, startLitestream } from '../helpers/litestream.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { freePort } from '../helpers/ports.js';
import { runWalship, runWriter, startWalship, startWriter, type WalshipProcess } from '../helpers/processes.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  root: string;
  data: string;
  replica: string;
  config: string;
}

function setup(opts: { recursive: boolean; watch: boolean; syncInterval?: string; top?: string }): Setup {
  const root = mkdtempSync(path.join(os.tmpdir(), 'walship-dir-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const data = path.join(root, 'data');
  const replica = path.join(root, 'replica');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  const config = path.join(root, 'walship.yml');
  writeFileSync(
    config,
    `${opts.top ?? ''}dbs:
  - dir: ${data}
    pattern: "*.db"
    recursive: ${opts.recursive}
    watch: ${opts.watch}
    replica:
      url: file://${replica}
      sync-interval: ${opts.syncInterval ?? '0s'}
`,
  );
  return { root, data, replica, config };
}

function events(w: WalshipProcess): Array<Record<string, unknown>> {
  return w
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Polls until `cond` holds, at most `ms`; then the caller asserts once. */
async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A SQLite database in rollback-journal mode, made by a separate process (Python's sqlite3). */
function rollbackDb(file: string): void {
  execFileSync('python3', ['-c', `import sqlite3\nc = sqlite3.connect(${JSON.stringify(file)})\nc.execute("create table t(x)")\nc.execute("insert into t values (1)")\nc.commit()\nc.close()`]);
}

/** The directory's entries but SQLite's -wal and -shm (which opening a database may leave). */
function names(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.endsWith('-wal') && !n.endsWith('-shm'))
    .sort();
}

function levelFiles(replicaDb: string): string[] {
  const ltx = path.join(replicaDb, 'ltx');
  if (!existsSync(ltx)) return [];
  return readdirSync(ltx).flatMap((l) => readdirSync(path.join(ltx, l)).map((n) => `${l}/${n}`));
}

describe('directory mode', () => {
  it('watch + recursive: a database created while running is picked up, a deleted one let go, non-WAL files warned once and untouched; restore -config rebuilds all', async () => {
    const s = setup({ recursive: true, watch: true });
    const early = path.join(s.data, 'early.db');
    await runWriter('node', { db: early, from: 1, to: 20, payload: 'small' });
    const goneDir = path.join(s.data, 'gone');
    const goneDb = path.join(goneDir, 'tenant.db');
    mkdirSync(goneDir);
    await runWriter('python', { db: goneDb, from: 1, to: 8, payload: 'small' });
    const junk = path.join(s.data, 'junk.db');
    writeFileSync(junk, 'not a database, only text that matches the pattern\n');
    const rollback = path.join(s.data, 'sub', 'rollback.db');
    rollbackDb(rollback);
    const rollbackSha = sha(rollback);
    writeFileSync(path.join(s.data, 'notes.txt'), 'not matching');

    const w = startWalship(['replicate', '-config', s.config]);
    cleanups.push(async () => void (await w.stop('SIGKILL').catch(() => undefined)));
    await w.waitForEvent('started');
    expect(events(w).find((e) => e.event === 'dir_scanned')?.dbs).toBe(2);

    // A new tenant database, in a subdirectory made while walship runs, by a separate process.
    mkdirSync(path.join(s.data, 'sub', 'eu'));
    const fresh = path.join(s.data, 'sub', 'eu', 'fresh.db');
    const writer = startWriter('node', { db: fresh, from: 1, to: 40, payload: 'small', delayMs: 20 });
    const commits = await writer.done();
    await until(() => events(w).some((e) => e.event === 'dir_db_added' && e.db === fresh), 10_000);
    const added = events(w).find((e) => e.event === 'dir_db_added' && e.db === fresh);
    expect(added, `fresh.db was not picked up within 10 s; logs:\n${w.logs()}`).toBeDefined();
    const pickupMs = Date.parse(added!.time as string) - (commits[0] as { t: number }).t;
    console.log(`pickup: dir_db_added ${pickupMs} ms after the new database's first commit`);

    // More matching files that are not WAL-mode databases, and changes to them: one warning each.
    appendFileSync(junk, 'more text\n');
    const lateJunk = path.join(s.data, 'late.db');
    writeFileSync(lateJunk, 'also text');
    appendFileSync(lateJunk, ' and more');
    await until(() => events(w).some((e) => e.event === 'dir_file_skipped' && e.db === lateJunk), 5_000);

    // Delete a replicated database: its replicator stops and its lock is released.
    const earlyDump = dump(early);
    for (const f of [early, `${early}-wal`, `${early}-shm`]) rmSync(f, { force: true });
    await until(() => events(w).some((e) => e.event === 'dir_db_removed' && e.db === early), 10_000);
    const removed = events(w).find((e) => e.event === 'dir_db_removed' && e.db === early);
    expect(removed, `early.db was not let go; logs:\n${w.logs()}`).toMatchObject({ reason: 'deleted', shipped: true });
    const lock = await ReplicatorLock.acquire(stagingDirOf(early), early);
    lock.release();
    // A whole subdirectory removed: its database is let go too.
    const goneDump = dump(goneDb);
    rmSync(goneDir, { recursive: true, force: true });
    await until(() => events(w).some((e) => e.event === 'dir_db_removed' && e.db === goneDb), 10_000);
    expect(events(w).find((e) => e.event === 'dir_db_removed' && e.db === goneDb), `gone/tenant.db was not let go; logs:\n${w.logs()}`).toBeDefined();
    // No error loop: a quiet while later, nothing more was said about either.
    const linesAfter = w.logs().split('\n').length;
    await new Promise((r) => setTimeout(r, 2_500));
    const later = w.logs().split('\n').slice(linesAfter - 1).filter((l) => l.includes(early) || l.includes(goneDb));
    expect(later).toEqual([]);

    expect(await w.stop()).toBe(0);
    const log = events(w);
    const skipped = (file: string): number => log.filter((e) => e.event === 'dir_file_skipped' && e.db === file).length;
    expect([skipped(junk), skipped(rollback), skipped(lateJunk)]).toEqual([1, 1, 1]);
    expect(log.filter((e) => e.level === 50)).toEqual([]);
    // Untouched: no staging directory, no WAL, the bytes the test (or Python) left.
    for (const f of [junk, rollback, lateJunk]) {
      expect(existsSync(stagingDirOf(f)), `${stagingDirOf(f)} exists`).toBe(false);
      expect(existsSync(`${f}-wal`)).toBe(false);
    }
    expect(sha(rollback)).toBe(rollbackSha);
    expect(readFileSync(junk, 'utf8')).toBe('not a database, only text that matches the pattern\nmore text\n');
    expect(existsSync(path.join(s.replica, 'notes.txt'))).toBe(false);
    expect(readdirSync(s.replica).sort()).toEqual(['early.db', 'gone', 'sub']);
    expect(readdirSync(path.join(s.replica, 'sub')).sort()).toEqual(['eu']);

    // The init container's job: an empty directory, every database back from the replica's listing.
    const freshDump = dump(fresh);
    renameSync(s.data, `${s.data}.old`);
    mkdirSync(s.data);
    const dry = await runWalship(['restore', '-config', s.config, '-dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`target:     ${early}\n`);
    expect(dry.stdout).toContain(`target:     ${fresh}\n`);
    expect(dry.stdout).toContain(`replica:    file (file://${path.join(s.replica, 'sub', 'eu', 'fresh.db')})`);
    expect(readdirSync(s.data)).toEqual([]);

    const r = await runWalship(['restore', '-config', s.config, '-if-db-not-exists', '-if-replica-exists']);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(early, 'small').k).toBe(20);
    expect(dump(early)).toBe(earlyDump);
    expect(checkRestored(fresh, 'small').k).toBe(40);
    expect(dump(fresh)).toBe(freshDump);
    expect(checkRestored(goneDb, 'small').k).toBe(8);
    expect(dump(goneDb)).toBe(goneDump);
    expect(names(s.data)).toEqual(['early.db', 'gone', 'sub']);

    // Run again: everything exists, nothing is written.
    const again = await runWalship(['restore', '-config', s.config, '-if-db-not-exists', '-json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([
      { db_path: early, skipped: 'database-exists' },
      { db_path: goneDb, skipped: 'database-exists' },
      { db_path: fresh, skipped: 'database-exists' },
    ]);

    // Litestream restores one of them from the layout walship wrote.
    const out = path.join(s.root, 'by-litestream.db');
    const ls = await runLitestream(['restore', '-o', out, `file://${path.join(s.replica, 'sub', 'eu', 'fresh.db')}`]);
    expect(ls.code, ls.output).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(40);
    expect(dump(out)).toBe(freshDump);
  });

  it('without recursive: only the directory itself counts, before and after start; status lists what runs', async () => {
    const port = await freePort();
    const s = setup({ recursive: false, watch: true, top: `addr: 127.0.0.1:${port}\n` });
    const top = path.join(s.data, 'top.db');
    const nested = path.join(s.data, 'sub', 'nested.db');
    await runWriter('node', { db: top, from: 1, to: 5, payload: 'small' });
    await runWriter('node', { db: nested, from: 1, to: 5, payload: 'small' });
    const switched = path.join(s.data, 'switched.db');
    rollbackDb(switched);
    const w = startWalship(['replicate', '-config', s.config]);
    cleanups.push(async () => void (await w.stop('SIGKILL').catch(() => undefined)));
    await w.waitForEvent('started');
    expect(events(w).filter((e) => e.event === 'dir_file_skipped').map((e) => e.db)).toEqual([switched]);
    // The application moves it to WAL mode later: picked up at that change.
    execFileSync('python3', ['-c', `import sqlite3\nc = sqlite3.connect(${JSON.stringify(switched)})\nc.execute("pragma journal_mode=wal")\nc.execute("insert into t values (2)")\nc.commit()\nc.close()`]);
    const later = path.join(s.data, 'later.db');
    const laterNested = path.join(s.data, 'sub', 'later-nested.db');
    await runWriter('node', { db: laterNested, from: 1, to: 5, payload: 'small' });
    await runWriter('node', { db: later, from: 1, to: 7, payload: 'small' });
    await until(() => levelFiles(path.join(s.replica, 'later.db')).length > 0 && levelFiles(path.join(s.replica, 'switched.db')).length > 0, 10_000);
    // The running replicator's /status, through walship status: both databases, the late one included.
    const status = await runWalship(['status', '-config', s.config, '-json']);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { source: string; dbs: Array<{ db: string }> };
    expect([report.source, report.dbs.map((d) => d.db).sort()]).toEqual(['replicator', [later, switched, top]]);
    expect(await w.stop()).toBe(0);
    const added = events(w)
      .filter((e) => e.event === 'dir_db_added')
      .map((e) => e.db)
      .sort();
    expect(added).toEqual([later, switched, top]);
    expect(readdirSync(s.replica).sort()).toEqual(['later.db', 'switched.db', 'top.db']);
    for (const f of [nested, laterNested]) expect(existsSync(stagingDirOf(f))).toBe(false);
    renameSync(s.data, `${s.data}.old`);
    mkdirSync(s.data);
    const r = await runWalship(['restore', '-config', s.config]);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(later, 'small').k).toBe(7);
    expect(checkRestored(top, 'small').k).toBe(5);
    expect(execFileSync('sqlite3', [switched, 'select group_concat(x) from t'], { encoding: 'utf8' }).trim()).toBe('1,2');
    expect(names(s.data)).toEqual(['later.db', 'switched.db', 'top.db']);
  });

  it('a second replicate on the same directory takes none of its databases: one warning each, nothing opened', async () => {
    const s = setup({ recursive: false, watch: true });
    const db = path.join(s.data, 'only.db');
    await runWriter('node', { db, from: 1, to: 5, payload: 'small' });
    const first = startWalship(['replicate', '-config', s.config]);
    cleanups.push(async () => void (await first.stop('SIGKILL').catch(() => undefined)));
    await first.waitForEvent('started');
    const second = startWalship(['replicate', '-config', s.config]);
    cleanups.push(async () => void (await second.stop('SIGKILL').catch(() => undefined)));
    await second.waitForEvent('started');
    // The application checkpoints (the database file changes): the second looks again, quietly.
    await runWriter('node', { db, from: 6, to: 30, payload: 'small', truncateEvery: 5 });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await second.stop()).toBe(0);
    expect(await first.stop()).toBe(0);
    const failed = events(second).filter((e) => e.event === 'dir_db_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0]!.msg)).toMatch(/already being replicated by pid \d+/);
    expect(events(second).filter((e) => e.event === 'stopped' || e.event === 'dir_db_added')).toEqual([]);
    const out = path.join(s.root, 'restored.db');
    const r = await runWalship(['restore', '-o', out, '-config', s.config, db]);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(30);
  });

  it('without watch: the databases found at start, and none is a one-line config error', async () => {
    const s = setup({ recursive: true, watch: false });
    const none = await runWalship(['replicate', '-config', s.config], {}, 30_000);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/dbs\[0\]\.dir: no WAL-mode SQLite database in .* matches "\*\.db" \(recursive\); add watch: true/);
    const one = path.join(s.data, 'sub', 'one.db');
    await runWriter('node', { db: one, from: 1, to: 3, payload: 'small' });
    const once = await runWalship(['replicate', '-config', s.config, '-once']);
    expect(once.code, once.stderr).toBe(0);
    expect(levelFiles(path.join(s.replica, 'sub', 'one.db')).length).toBeGreaterThan(0);
    const listed = await runWalship(['databases', '-config', s.config]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${one}  file`);
    expect(listed.stdout).toContain(`file://${path.join(s.replica, 'sub', 'one.db')}`);
    const status = await runWalship(['status', '-config', s.config, '-json']);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { dbs: Array<{ db: string; txid: number; replicas: Array<{ txid: number }> }> };
    expect(report.dbs.map((d) => [d.db, d.replicas[0]!.txid > 0])).toEqual([[one, true]]);
  });

  it("walship restores, with restore -config, the databases Litestream replicated in directory mode", async () => {
    // Litestream refuses a sync-interval of 0.
    const s = setup({ recursive: true, watch: false, syncInterval: '100ms' });
    const a = path.join(s.data, 'a.db');
    const b = path.join(s.data, 'sub', 'b.db');
    await runWriter('node', { db: a, from: 1, to: 12, payload: 'small' });
    await runWriter('node', { db: b, from: 1, to: 9, payload: 'small' });
    const ls = startLitestream(['replicate', '-config', s.config]);
    cleanups.push(async () => void (await ls.stop(5_000)));
    await until(() => levelFiles(path.join(s.replica, 'a.db')).length > 0 && levelFiles(path.join(s.replica, 'sub', 'b.db')).length > 0, 30_000);
    expect(await ls.stop()).toBe(0);
    expect(levelFiles(path.join(s.replica, 'sub', 'b.db')).length, ls.logs()).toBeGreaterThan(0);
    const [dumpA, dumpB] = [dump(a), dump(b)];
    renameSync(s.data, `${s.data}.old`);
    mkdirSync(s.data);
    const r = await runWalship(['restore', '-config', s.config, '-if-db-not-exists']);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(a, 'small').k).toBe(12);
    expect(dump(a)).toBe(dumpA);
    expect(checkRestored(b, 'small').k).toBe(9);
    expect(dump(b)).toBe(dumpB);
  });
});
