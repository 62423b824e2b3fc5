// The follower's database: a file readers open read-only while walship changes it. Each LTX file is
// applied as one transaction under SQLite's own locking:
//  1. a better-sqlite3 connection on the file runs BEGIN EXCLUSIVE: SQLite waits for readers to
//     finish (their SHARED locks) and keeps new ones out (PENDING) until ROLLBACK;
//  2. the pages about to change go into `<db>-journal`, in SQLite's rollback-journal format, and it
//     is fsynced: from here a crash leaves a hot journal, which SQLite rolls back before anyone reads;
//  3. the new pages are written, page 1 with a bumped change counter (every reader's cache notices),
//     the file is cut to the new size and fsynced;
//  4. the journal is deleted (the commit point, as in SQLite's DELETE journal mode), then the lock
//     goes.
// The pages are written through a file handle this object keeps open until after the connection
// closes: closing any descriptor of the file would drop the process's POSIX locks on it.
import Database from 'better-sqlite3';
import { randomInt } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { lockPgno, type LtxHeader } from '../ltx/format.js';
import { fsyncDir } from '../util/fs.js';
import { encodeJournalHeader, encodeJournalRecord } from './journal.js';
import { followerPageOne, readChangeCounter } from './page-one.js';
import type { PageSpool } from './page-spool.js';

const RUN_PAGES = 256;

export class FollowError extends Error {
  override name = 'FollowError';
  constructor(
    message: string,
    /** Retrying cannot help (the follower stops): a changed page size, a database not in rollback mode. */
    readonly permanent = false,
  ) {
    super(message);
  }
}

export class FollowerDb {
  /** Why SQLite could not roll back a failed apply at once (it will when the database is next read). */
  rollbackError: string | null = null;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    private readonly fh: FileHandle,
    readonly pageSize: number,
  ) {}

  /** Opens a database the follower owns; a hot journal a crashed follower left is rolled back first. */
  static async open(dbPath: string, busyTimeoutMs: number): Promise<FollowerDb> {
    const fh = await fsp.open(dbPath, 'r+');
    let db: Database.Database | null = null;
    try {
      db = new Database(dbPath, { fileMustExist: true });
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
      const mode = db.pragma('journal_mode', { simple: true });
      if (mode !== 'delete') throw new FollowError(`${dbPath} is in ${String(mode)} journal mode; a follower's database is in rollback-journal (delete) mode (did a reader write to it?)`, true);
      // Reading takes a SHARED lock, and SQLite rolls back a hot journal before it reads.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      return new FollowerDb(dbPath, db, fh, pageSize);
    } catch (err) {
      db?.close();
      await fh.close();
      throw err;
    }
  }

  /** The database's size in pages, from the file. */
  async pages(): Promise<number> {
    return Math.floor((await this.fh.stat()).size / this.pageSize);
  }

  /** Applies one decoded, verified LTX file as one transaction readers see whole or not at all. */
  async apply(header: LtxHeader, spool: PageSpool): Promise<void> {
    if (header.pageSize !== this.pageSize) {
      throw new FollowError(`page size changed from ${this.pageSize} to ${header.pageSize}; remove ${this.path} and restore the follower again`, true);
    }
    const ps = this.pageSize;
    const lock = lockPgno(ps);
    const journalPath = `${this.path}-journal`;
    const dir = path.dirname(path.resolve(this.path));
    try {
      this.db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      throw new FollowError(`cannot lock ${this.path} (readers hold it): ${(err as Error).message}`);
    }
    let journaled = false;
    try {
      const sizeBefore = await this.pages();
      // Every existing page that changes or goes, and page 1, whose header always changes.
      const saved = new Set<number>([1]);
      for (const p of spool.pgnos) if (p <= sizeBefore) saved.add(p);
      for (let p = header.commit + 1; p <= sizeBefore; p++) saved.add(p);
      saved.delete(lock);
      const oldPage1 = await this.readPage(1);

      const nonce = randomInt(0, 0x100000000);
      // A journal still there is one SQLite found not hot when it took its lock above (a hot one it
      // rolls back first): a follower died after creating it, before its header was written. It
      // holds nothing, and is overwritten.
      const jh = await fsp.open(journalPath, 'w');
      try {
        await jh.write(encodeJournalHeader({ records: saved.size, nonce, sizeBefore, pageSize: ps }));
        let batch: Buffer[] = [];
        for (const p of [...saved].sort((a, b) => a - b)) {
          batch.push(...encodeJournalRecord(nonce, p, p === 1 ? oldPage1 : await this.readPage(p)));
          if (batch.length >= RUN_PAGES * 3) {
            await jh.writev(batch);
            batch = [];
          }
        }
        if (batch.length) await jh.writev(batch);
        await jh.sync();
      } finally {
        await jh.close();
      }
      journaled = true;
      await fsyncDir(dir);

      // The new pages, consecutive ones in one write; page 1 gets the follower's header.
      let newPage1: Buffer = oldPage1;
      const pgnos = spool.pgnos;
      for (let i = 0; i < pgnos.length; ) {
        let n = 1;
        while (i + n < pgnos.length && n < RUN_PAGES && pgnos[i + n] === pgnos[i]! + n) n++;
        const run = await spool.read(i, n);
        if (pgnos[i] === 1) {
          newPage1 = Buffer.from(run.subarray(0, ps));
          if (n > 1) await this.fh.write(run, ps, (n - 1) * ps, ps);
        } else {
          await this.fh.write(run, 0, run.length, (pgnos[i]! - 1) * ps);
        }
        i += n;
      }
      await this.fh.write(followerPageOne(newPage1, readChangeCounter(oldPage1), header.commit), 0, ps, 0);
      await this.fh.truncate(header.commit * ps);
      await this.fh.sync();
      // Commit: with the journal gone, the new state is the database.
      await fsp.unlink(journalPath);
      journaled = false;
      await fsyncDir(dir);
    } finally {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      // A failure after the journal was written: SQLite puts the old pages back now (it sees a hot
      // journal as soon as it reads), so readers never meet the half-written file.
      if (journaled) {
        try {
          this.db.prepare('SELECT count(*) FROM sqlite_master').get();
        } catch (err) {
          this.rollbackError = (err as Error).message;
        }
      }
    }
  }

  private async readPage(pgno: number): Promise<Buffer> {
    const b = Buffer.alloc(this.pageSize);
    const { bytesRead } = await this.fh.read(b, 0, this.pageSize, (pgno - 1) * this.pageSize);
    if (bytesRead !== this.pageSize) b.fill(0, bytesRead);
    return b;
  }

  async close(): Promise<void> {
    // The connection first: closing our descriptor while it holds locks would drop them.
    this.db.close();
    await this.fh.close();
  }
}
