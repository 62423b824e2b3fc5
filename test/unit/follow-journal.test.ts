// The rollback journal the follower writes is one SQLite itself rolls back: pages overwritten with
// garbage after the journal was written come back exactly when a real SQLite (Python's, a separate
// process) opens the database.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync, existsSync, ftruncateSync, fstatSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeJournalHeader, encodeJournalRecord, journalChecksum } from '../../src/follow/journal.js';
import { followerPageOne, readChangeCounter } from '../../src/follow/page-one.js';
import { FollowerDb } from '../../src/follow/follower-db.js';
import { PageSpool } from '../../src/follow/page-spool.js';
import { ltxHeader } from '../../src/ltx/format.js';
import { readFileSync, writeFileSync } from 'node:fs';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeDb(file: string): string {
  const db = new Database(file);
  db.pragma('journal_mode = delete');
  db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)');
  const ins = db.prepare('INSERT INTO t VALUES (?, randomblob(3000))');
  for (let i = 1; i <= 50; i++) ins.run(i);
  db.close();
  return execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' });
}

function pyDumpAndCheck(file: string): string {
  return execFileSync('python3', ['-c', 'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nprint(c.execute("pragma integrity_check").fetchone()[0])\nprint(c.execute("select count(*), sum(length(v)) from t").fetchone())', file], { encoding: 'utf8' });
}

describe('follower rollback journal', () => {
  it('SQLite rolls back a hot journal the follower wrote: garbage pages and a truncation undo', () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-journal-'));
    const file = path.join(dir, 'f.db');
    const before = makeDb(file);
    const want = pyDumpAndCheck(file);
    const fd = openSync(file, 'r+');
    const ps = 4096;
    const size = fstatSync(fd).size / ps;
    const nonce = 0x12345678;
    const pages = [1, 3, 7, size - 1, size];
    const old = pages.map((p) => {
      const b = Buffer.alloc(ps);
      readSync(fd, b, 0, ps, (p - 1) * ps);
      return b;
    });
    const journal = Buffer.concat([
      encodeJournalHeader({ records: pages.length, nonce, sizeBefore: size, pageSize: ps }),
      ...pages.flatMap((p, i) => encodeJournalRecord(nonce, p, old[i]!)),
    ]);
    const jfd = openSync(`${file}-journal`, 'wx');
    writeSync(jfd, journal);
    closeSync(jfd);
    // The half-applied change a crash would leave: garbage pages, a bumped header, a cut-off tail.
    for (const p of [3, 7]) writeSync(fd, Buffer.alloc(ps, 0xab), 0, ps, (p - 1) * ps);
    writeSync(fd, followerPageOne(old[0]!, readChangeCounter(old[0]!), size - 2), 0, ps, 0);
    ftruncateSync(fd, (size - 2) * ps);
    closeSync(fd);
    expect(pyDumpAndCheck(file)).toBe(want);
    expect(existsSync(`${file}-journal`)).toBe(false);
    expect(execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' })).toBe(before);
  });

  it('checksums every 200th byte from the end, seeded with the nonce', () => {
    const page = Buffer.alloc(1024);
    page[824] = 1;
    page[624] = 2;
    page[24] = 3;
    page[0] = 100; // never counted
    expect(journalChecksum(10, page)).toBe(16);
  });

  it('page 1 of a follower says rollback mode, bumps the change counter and marks its size valid', () => {
    const p = Buffer.alloc(4096);
    p.write('SQLite format 3\u0000', 0, 'latin1');
    p[18] = 2;
    p[19] = 2;
    p.writeUInt32BE(7, 24);
    const f = followerPageOne(p, 41, 99);
    expect([f[18], f[19]]).toEqual([1, 1]);
    expect(f.readUInt32BE(24)).toBe(42);
    expect(f.readUInt32BE(28)).toBe(99);
    expect(f.readUInt32BE(92)).toBe(42);
  });

  // A follower killed between creating its journal and writing the journal's header leaves an empty
  // (or zero-headed) `-journal`. SQLite does not count it as hot, so nothing removes it; the next
  // apply must not stop on it, or the follower retries the same file for ever.
  for (const [name, leftover] of [
    ['an empty journal', Buffer.alloc(0)],
    ['a journal whose header is zeros', Buffer.alloc(4096)],
  ] as const) {
    it(`the next apply goes through ${name} a killed follower left, and the database is the new state`, async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'walship-journal-'));
      const file = path.join(dir, 'f.db');
      const target = path.join(dir, 'target.db');
      makeDb(file);
      // The state to reach: the same database with rows changed and added, in rollback mode.
      writeFileSync(target, readFileSync(file));
      const t = new Database(target);
      t.exec("UPDATE t SET v = randomblob(2000) WHERE n % 7 = 0; INSERT INTO t SELECT n + 50, randomblob(3000) FROM t WHERE n <= 20");
      t.close();
      const want = execFileSync('sqlite3', [target, '.dump'], { encoding: 'utf8' });
      const bytes = readFileSync(target);
      const ps = 4096;
      const commit = bytes.length / ps;

      writeFileSync(`${file}-journal`, leftover);
      const db = await FollowerDb.open(file, 1000);
      const spool = await PageSpool.create(path.join(dir, 'pending.pages'), ps);
      try {
        for (let p = 1; p <= commit; p++) await spool.add(p, bytes.subarray((p - 1) * ps, p * ps));
        await db.apply(ltxHeader({ pageSize: ps, commit, minTXID: 2, maxTXID: 2, timestamp: Date.now() }), spool);
      } finally {
        await spool.dispose();
        await db.close();
      }
      expect(existsSync(`${file}-journal`)).toBe(false);
      expect(execFileSync('sqlite3', [file, '.dump'], { encoding: 'utf8' })).toBe(want);
      expect(pyDumpAndCheck(file)).toMatch(/^ok\n\(70, /);
    });
  }
});
