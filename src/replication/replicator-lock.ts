// One replicator per database. An exclusive SQLite lock on a small file in staging is held for the
// replicator's lifetime; the kernel drops it if the process dies, so a crash never leaves it stuck.
import Database from 'better-sqlite3';
import { promises as fsp, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class LockHeldError extends Error {
  override name = 'LockHeldError';
}

interface Holder {
  pid: number;
  host: string;
  since: string;
}

export class ReplicatorLock {
  private constructor(private readonly db: Database.Database) {}

  static async acquire(stagingDir: string, dbPath: string): Promise<ReplicatorLock> {
    await fsp.mkdir(stagingDir, { recursive: true });
    const lockPath = path.join(stagingDir, 'replicator.lock');
    const holderPath = path.join(stagingDir, 'replicator.holder');
    const db = new Database(lockPath, { timeout: 0 });
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      throw new LockHeldError(`database ${dbPath} is already being replicated by ${describeHolder(holderPath)}; refusing to start a second replicator`);
    }
    const holder: Holder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
    await fsp.writeFile(holderPath, `${JSON.stringify(holder)}\n`);
    return new ReplicatorLock(db);
  }

  release(): void {
    if (this.db.open) {
      this.db.exec('ROLLBACK');
      this.db.close();
    }
  }
}

function describeHolder(holderPath: string): string {
  try {
    const h = JSON.parse(readFileSync(holderPath, 'utf8')) as Holder;
    return `pid ${h.pid} on host ${h.host} (since ${h.since})`;
  } catch {
    return 'another process';
  }
}
