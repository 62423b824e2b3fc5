// Holds a read transaction on the database at all times, so that no other connection's checkpoint
// can restart or truncate the WAL past frames walship has not captured yet. Moving the pin forward
// uses two connections: the new read begins before the old one ends.
import type Database from 'better-sqlite3';
import { openOwnConnection } from './open.js';

export class PinnedReader {
  private pinned: Database.Database;
  private spare: Database.Database;
  private pinnedHolds = false;
  /** Moves so far. */
  moves = 0;

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

  /**
   * Moves the pin to the newest snapshot: the new read begins on the spare connection, then the
   * old one ends at once. Call before reading the WAL: the new pin protects at least as much as
   * the old one, so nothing uncaptured is ever exposed, and whatever the capture then reads past
   * the new pin's snapshot is checked frame by frame anyway.
   *
   * The two reads overlap only for that instant. Held across a whole capture pass (tens of
   * milliseconds with its staging fsync), an application's TRUNCATE or RESTART checkpoint waiting
   * for readers was seen to wait out its entire busy timeout.
   */
  moveForward(): void {
    if (!this.pinnedHolds) return this.pin();
    this.moves++;
    beginRead(this.spare);
    endRead(this.pinned, true);
    [this.pinned, this.spare] = [this.spare, this.pinned];
  }

  /** Drops the read transaction: only for a checkpoint, under the write barrier. */
  releaseAll(): void {
    endRead(this.pinned, this.pinnedHolds);
    this.pinnedHolds = false;
  }

  /** A connection with no transaction open, for running checkpoints. */
  get idleConnection(): Database.Database {
    return this.spare;
  }

  close(): void {
    this.releaseAll();
    this.pinned.close();
    this.spare.close();
  }
}

// Statements prepared once per connection: preparing them on every move was a third of an idle
// poll's cost.
interface PinStatements {
  begin: Database.Statement;
  read: Database.Statement;
  rollback: Database.Statement;
}
const statements = new WeakMap<Database.Database, PinStatements>();

function statementsOf(db: Database.Database): PinStatements {
  let s = statements.get(db);
  if (!s) {
    s = { begin: db.prepare('BEGIN'), read: db.prepare('SELECT count(*) FROM sqlite_master'), rollback: db.prepare('ROLLBACK') };
    statements.set(db, s);
  }
  return s;
}

function beginRead(db: Database.Database): void {
  const s = statementsOf(db);
  s.begin.run();
  try {
    // A read transaction starts with the first read of the database.
    s.read.get();
  } catch (err) {
    s.rollback.run();
    throw err;
  }
}

function endRead(db: Database.Database, holds: boolean): void {
  if (holds && db.inTransaction) statementsOf(db).rollback.run();
}
