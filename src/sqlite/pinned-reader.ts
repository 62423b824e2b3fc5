// Holds a read transaction on the database at all times, so that no other connection's checkpoint
// can restart or truncate the WAL past frames walship has not captured yet. Moving the pin forward
// uses two connections: the new read begins before the old one ends.
import type Database from 'better-sqlite3';
import { openOwnConnection } from './open.js';

export class PinnedReader {
  private pinned: Database.Database;
  /** The second connection, opened when needed and closed while the database is idle (releaseSpare). */
  private sparedb: Database.Database | null = null;
  private pinnedHolds = false;
  /** Moves so far. */
  moves = 0;

  constructor(
    readonly dbPath: string,
    private readonly busyTimeoutMs: number,
  ) {
    this.pinned = openOwnConnection(dbPath, busyTimeoutMs);
  }

  private get spare(): Database.Database {
    this.sparedb ??= openOwnConnection(this.dbPath, this.busyTimeoutMs);
    return this.sparedb;
  }

  /**
   * Closes the spare connection (about 150 KB of SQLite's memory each) until the next move: for an
   * idle database, where the pin stays put. The pin's read and its lock are untouched: SQLite keeps
   * the file descriptor of a closed connection while another of this process holds a lock on it.
   */
  releaseSpare(): void {
    this.sparedb?.close();
    this.sparedb = null;
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
    const next = this.spare;
    beginRead(next);
    endRead(this.pinned, true);
    this.sparedb = this.pinned;
    this.pinned = next;
  }

  /** Drops the read transaction: only for a checkpoint, under the write barrier. */
  releaseAll(): void {
    endRead(this.pinned, this.pinnedHolds);
    this.pinnedHolds = false;
  }

  /** SQLite connections open now: the pin's, and the spare's while it is open. */
  get connections(): number {
    return this.sparedb ? 2 : 1;
  }

  /** A connection with no transaction open, for running checkpoints. */
  get idleConnection(): Database.Database {
    return this.spare;
  }

  close(): void {
    this.releaseAll();
    this.pinned.close();
    this.releaseSpare();
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
