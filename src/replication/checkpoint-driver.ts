// walship's own checkpoints of one database: after each capture, asks checkpoint-policy.ts whether
// one is due, runs it through DatabaseCapture (which captures around it), and keeps the timer for a
// WAL left idle under the thresholds. DbReplicator calls it from inside its exclusive passes.
import type { Logger } from 'pino';
import type { Metrics } from '../server/metrics.js';
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE } from '../sqlite/wal-format.js';
import { chooseCheckpoint, idleCheckpointDueAt, type CheckpointThresholds, type WalState } from './checkpoint-policy.js';
import type { CaptureResult, DatabaseCapture } from './db-capture.js';

export interface CheckpointDriverOptions extends CheckpointThresholds {
  dbPath: string;
  /** A postponed or idle checkpoint is tried again no sooner than this. */
  monitorIntervalMs: number;
}

export class CheckpointDriver {
  /** Where walship's last checkpoint left this WAL generation (frames past it count towards the next). */
  private mark = { salt1: 0, salt2: 0, offset: WAL_HEADER_SIZE };
  private lastAt = Date.now();
  private idleTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly opts: CheckpointDriverOptions,
    private readonly capture: DatabaseCapture,
    private readonly log: Logger,
    private readonly metrics: Metrics | null,
    /** Each capture made around a checkpoint. */
    private readonly onCapture: (c: CaptureResult) => void,
    /** Asks for a capture pass, from which a due checkpoint runs. */
    private readonly requestPass: () => void,
  ) {}

  /** After a capture: runs the checkpoint that is due, if any, and sets the idle timer. */
  async afterCapture(): Promise<void> {
    const state = this.walState();
    const mode = state ? chooseCheckpoint(state, this.opts) : null;
    if (mode) await this.run(mode);
    this.scheduleIdle();
  }

  stop(): void {
    this.stopped = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** Where the WAL stands for checkpoint-policy.ts, from the captured position. */
  private walState(): WalState | null {
    const pos = this.capture.position;
    if (!pos || pos.walOffset < WAL_HEADER_SIZE) return null;
    if (this.mark.salt1 !== pos.salt1 || this.mark.salt2 !== pos.salt2) {
      this.mark = { salt1: pos.salt1, salt2: pos.salt2, offset: WAL_HEADER_SIZE };
    }
    const frameSize = pos.pageSize + WAL_FRAME_HEADER_SIZE;
    return {
      walFrames: this.capture.capturedWalFrames,
      framesSinceCheckpoint: Math.max(0, (pos.walOffset - this.mark.offset) / frameSize),
      msSinceCheckpoint: Date.now() - this.lastAt,
    };
  }

  private async run(mode: 'PASSIVE' | 'TRUNCATE'): Promise<void> {
    const { checkpoint, captures } = await this.capture.checkpoint(mode);
    for (const c of captures) this.onCapture(c);
    if (!checkpoint) {
      this.log.debug({ db: this.opts.dbPath, event: 'checkpoint_skipped' }, 'application held the write lock; checkpoint postponed');
      return;
    }
    this.lastAt = Date.now();
    this.metrics?.checkpoints.inc({ db: this.opts.dbPath, mode });
    const after = this.capture.position!;
    this.mark = { salt1: after.salt1, salt2: after.salt2, offset: after.walOffset };
    this.log.info({ db: this.opts.dbPath, event: 'checkpoint', mode, busy: checkpoint.busy, frames: checkpoint.logFrames, checkpointed: checkpoint.checkpointedFrames }, 'checkpoint');
  }

  /**
   * A WAL left with frames under the threshold gets its PASSIVE after checkpoint-interval, with no
   * poll needed; a checkpoint that is due but was postponed (the application held the write lock) is
   * tried again a poll later, not at once, even if nothing changes meanwhile.
   */
  private scheduleIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const state = this.walState();
    const due = !state ? null : chooseCheckpoint(state, this.opts) ? Date.now() : idleCheckpointDueAt(state, this.lastAt, this.opts);
    if (due === null || this.stopped) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.requestPass();
    }, Math.max(this.opts.monitorIntervalMs, due - Date.now()));
  }
}
