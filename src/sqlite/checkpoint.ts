// walship's own checkpoints, which never take frames away before they are captured. PASSIVE runs
// while the pin is held: SQLite backfills no further than the oldest reader's snapshot, and never
// restarts a WAL that a reader still uses, so the application writes on undisturbed. TRUNCATE
// captures everything under a short write barrier first. RESTART is never used.
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

const BARRIER_ATTEMPTS = 20;
const BARRIER_RETRY_MS = 25;

export class Checkpointer {
  private readonly barrier: Database.Database;

  constructor(
    dbPath: string,
    private readonly pin: PinnedReader,
  ) {
    // A zero busy timeout: waiting happens in the event loop below, not inside SQLite.
    this.barrier = openOwnConnection(dbPath, 0);
  }

  /**
   * Copies frames into the database up to the pinned snapshot, which is never past what was
   * captured (the pin starts before the WAL is read). No lock is taken that would stall a writer.
   */
  passive(): CheckpointResult {
    if (!this.pin.holding) throw new Error('a PASSIVE checkpoint needs the pin held');
    return { mode: 'PASSIVE', ...checkpoint(this.pin.idleConnection, 'PASSIVE'), writesRaced: false };
  }

  /**
   * Runs `captureAll` while holding the write lock (BEGIN IMMEDIATE writes nothing), then drops
   * every lock and truncates the WAL. Returns null when the application kept the write lock for
   * the whole wait.
   */
  async truncate(captureAll: () => Promise<void>): Promise<CheckpointResult | null> {
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

  close(): void {
    if (this.barrier.inTransaction) this.barrier.exec('ROLLBACK');
    this.barrier.close();
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
