// walship's own checkpoints, which never take frames away before they are captured. Both do
// their copying while the pin is held (SQLite backfills no further than the oldest reader's
// snapshot), so the application writes on meanwhile: a first copy, then `catchUp` captures (outside
// any lock) what was committed during it and a second copy follows. Only what is committed after
// that is captured under a short write barrier; TRUNCATE then copies the last frames and empties
// the WAL. Measured with 8 MB transactions, capturing and copying a whole transaction under the
// barrier held the application's commits for most of a bulk load. RESTART is never used.
import type Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import { openOwnConnection } from './open.js';
import type { PinnedReader } from './pinned-reader.js';

export type CheckpointMode = 'PASSIVE' | 'TRUNCATE';

export interface CheckpointResult {
  mode: CheckpointMode;
  /** 1 when readers or writers kept the checkpoint from completing. */
  busy: number;
  logFrames: number;
  checkpointedFrames: number;
  /** For TRUNCATE: another connection committed while the barrier was down, so frames may be gone. */
  writesRaced: boolean;
}

/** Captures what was committed since the last capture, outside any lock; true if it wrote a file. The pin is held after it. */
export type CatchUp = () => Promise<boolean>;

const BARRIER_ATTEMPTS = 20;
const BARRIER_RETRY_MS = 25;

export class Checkpointer {
  /** Opened at the first checkpoint and closed again when the database goes idle (release()). */
  private conn: Database.Database | null = null;

  constructor(
    private readonly dbPath: string,
    private readonly pin: PinnedReader,
  ) {}

  /** 1 while the barrier's connection is open, else 0. */
  get connections(): number {
    return this.conn ? 1 : 0;
  }

  private get barrier(): Database.Database {
    // A zero busy timeout: waiting happens in the event loop below, not inside SQLite.
    this.conn ??= openOwnConnection(this.dbPath, 0);
    return this.conn;
  }

  /**
   * PASSIVE in two steps. First the bulk of the copying (copyAhead), with the pin held and no lock
   * that a writer waits on: SQLite copies no frame past the pinned snapshot, which is never past what
   * was captured (the pin starts before the WAL is read). Then a short write barrier: `captureAll`
   * takes what was committed meanwhile, the pins drop, the few remaining frames are copied, and the
   * pin is taken again. Taken while every frame is in the database file, the new pin reads that
   * file alone, so the application's next commit restarts the WAL instead of growing it (SQLite
   * never restarts a WAL that a reader still uses, and a growing WAL makes the application's
   * autocheckpoint run on every commit).
   */
  async passive(captureAll: () => Promise<void>, catchUp: CatchUp): Promise<CheckpointResult> {
    const bulk = await this.copyAhead(catchUp);
    // Another checkpoint (the application's) is running, or the writer kept its lock: next time.
    if (bulk.busy !== 0 || !(await this.acquireBarrier())) return bulk;
    const idle = this.pin.idleConnection;
    try {
      await captureAll();
      this.pin.releaseAll();
      try {
        return { mode: 'PASSIVE', ...checkpoint(idle, 'PASSIVE'), writesRaced: false };
      } finally {
        this.pin.pin();
      }
    } finally {
      this.barrier.exec('ROLLBACK');
    }
  }

  /**
   * Runs `captureAll` while holding the write lock (BEGIN IMMEDIATE writes nothing), then drops
   * every lock and truncates the WAL. Returns null when the application kept the write lock for
   * the whole wait.
   */
  async truncate(captureAll: () => Promise<void>, catchUp: CatchUp): Promise<CheckpointResult | null> {
    // Busy here (the application's own checkpoint running) only means TRUNCATE copies more itself.
    await this.copyAhead(catchUp);
    if (!(await this.acquireBarrier())) return null;
    const idle = this.pin.idleConnection;
    const mode = 'TRUNCATE';
    let barrierHeld = true;
    try {
      await captureAll();
      // TRUNCATE needs the write lock itself, so the barrier must drop first. A commit that slips
      // in between may be checkpointed and truncated away unseen: data_version tells if one did.
      const before = dataVersion(idle);
      this.pin.releaseAll();
      this.barrier.exec('ROLLBACK');
      barrierHeld = false;
      try {
        const r = checkpoint(idle, 'TRUNCATE');
        return { mode, ...r, writesRaced: dataVersion(idle) !== before };
      } finally {
        this.pin.pin();
      }
    } finally {
      if (barrierHeld) this.barrier.exec('ROLLBACK');
    }
  }

  /**
   * The copying done before any barrier, with the pin held: a PASSIVE copy, then, if `catchUp`
   * captured what was committed meanwhile (moving the pin), a second one. Returns the last copy's result.
   */
  private async copyAhead(catchUp: CatchUp): Promise<CheckpointResult> {
    if (!this.pin.holding) throw new Error('a checkpoint needs the pin held');
    let copy: CheckpointResult = { mode: 'PASSIVE', ...checkpoint(this.pin.idleConnection, 'PASSIVE'), writesRaced: false };
    if (copy.busy === 0 && (await catchUp())) copy = { mode: 'PASSIVE', ...checkpoint(this.pin.idleConnection, 'PASSIVE'), writesRaced: false };
    return copy;
  }

  /**
   * Closes the barrier's connection (about 150 KB of SQLite's memory) until the next checkpoint.
   * Only between checkpoints. SQLite keeps the file descriptor of a closed connection while another
   * connection of this process holds a lock on the file, so the pin's lock stays.
   */
  release(): void {
    if (!this.conn) return;
    if (this.conn.inTransaction) this.conn.exec('ROLLBACK');
    this.conn.close();
    this.conn = null;
  }

  close(): void {
    this.release();
  }

  private async acquireBarrier(): Promise<boolean> {
    for (let i = 0; i < BARRIER_ATTEMPTS; i++) {
      try {
        this.barrier.exec('BEGIN IMMEDIATE');
        return true;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        await sleep(BARRIER_RETRY_MS);
      }
    }
    return false;
  }
}

function checkpoint(db: Database.Database, mode: CheckpointMode): Omit<CheckpointResult, 'mode' | 'writesRaced'> {
  const row = db.prepare(`PRAGMA wal_checkpoint(${mode})`).get() as { busy: number; log: number; checkpointed: number };
  return { busy: row.busy, logFrames: row.log, checkpointedFrames: row.checkpointed };
}

function dataVersion(db: Database.Database): number {
  return Number(db.pragma('data_version', { simple: true }));
}
