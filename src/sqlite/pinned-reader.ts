// Holds a read transaction on the database at all times, so that no other connection's checkpoint
// can restart or truncate the WAL past frames walship has not captured yet. Moving the pin forward
// is a handoff between two connections: the new read begins before the old one ends.
import type Database from 'better-sqlite3';
import { openOwnConnection } from './open.js';

export class PinnedReader {
  private pinned: Database.Database;
  private spare: Database.Database;
  private pinnedHolds = false;
  private spareHolds = false;

  constructor(
    readonly dbPath: string,
    busyTimeoutMs: number,
  ) {
    this.pinned = openOwnConnection(dbPath, busyTimeoutMs);
    try {
      this.spare = openOwnConnection(dbPath, busyTimeoutMs);
    } catch (err) {
      this.pinned.close();
      throw err;
    }
  }

  /** True while a read transaction is held. */
  get holding(): boolean {
    return this.pinnedHolds;
  }

  pin(): void {
    if (this.pinnedHolds) return;
    beginRead(this.pinned);
    this.pinnedHolds = true;
  }

  /** Starts the next pin; call before reading the WAL, then finishHandoff() after capturing. */
  beginHandoff(): void {
    if (this.spareHolds) return;
    beginRead(this.spare);
    this.spareHolds = true;
  }

  finishHandoff(): void {
    if (!this.spareHolds) return;
    endRead(this.pinned, this.pinnedHolds);
    [this.pinned, this.spare] = [this.spare, this.pinned];
    this.pinnedHolds = true;
    this.spareHolds = false;
  }

  abandonHandoff(): void {
    endRead(this.spare, this.spareHolds);
    this.spareHolds = false;
  }

  /** Drops every read transaction: only for a checkpoint, under the write barrier. */
  releaseAll(): void {
    this.abandonHandoff();
    endRead(this.pinned, this.pinnedHolds);
    this.pinnedHolds = false;
  }

  /** A connection with no transaction open, for running checkpoints. */
  get idleConnection(): Database.Database {
    if (this.spareHolds) throw new Error('handoff in progress');
    return this.spare;
  }

  close(): void {
    this.releaseAll();
    this.pinned.close();
    this.spare.close();
  }
}

function beginRead(db: Database.Database): void {
  db.exec('BEGIN');
  try {
    // A read transaction starts with the first read of the database.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

function endRead(db: Database.Database, holds: boolean): void {
  if (holds && db.inTransaction) db.exec('ROLLBACK');
}
