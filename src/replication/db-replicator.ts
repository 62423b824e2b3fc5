// Replication of one database: triggers capture (watching the WAL, plus a poll), runs
// walship's own checkpoints (checkpoint-driver.ts), compaction and snapshots, and feeds every
// replica's shipper.
import type { Logger } from 'pino';
import type { ReplicaClient } from '../replica/client.js';
import { LEVELS, SNAPSHOT_LEVEL } from '../replica/layout.js';
import type { Metrics } from '../server/metrics.js';
import { NotWalModeError } from '../sqlite/open.js';
import { Backoff } from '../util/backoff.js';
import { statOrNull } from '../util/fs.js';
import { captureDelayMs, captureWindowMs, GROUP_COMMIT_MAX_WAIT_MS, type CaptureTrigger } from './capture-schedule.js';
import { CheckpointDriver } from './checkpoint-driver.js';
import { compactStagedLevel } from './compaction.js';
import { DatabaseCapture, type CaptureResult } from './db-capture.js';
import { DbWatcher } from './db-watcher.js';
import { PollScheduler, type PollHandle } from './poll-scheduler.js';
import { warnDiskcacheValues } from './diskcache.js';
import { ReplicaShipper, type ShipperStatus } from './replica-shipper.js';
import { FenceIdentity, ReplicaFence } from './replica-fence.js';
import { promoteFollower } from './promotion.js';
import { ReplicatorLock } from './replicator-lock.js';
import { StagingRoom } from './staging-room.js';
import { Staging } from './staging.js';
import { ReplicaValidator } from './replica-validator.js';
import type { ValidationResult } from './validation.js';
import { sleep, Wakeup } from '../util/wakeup.js';

export interface ReplicaTarget {
  name: string;
  client: ReplicaClient;
  syncIntervalMs: number;
  backlogLimitBytes: number;
  retentionMs: number;
  retentionCheckIntervalMs: number;
  /** 0 turns periodic validation off. */
  validationIntervalMs: number;
}

export interface DbReplicatorOptions {
  dbPath: string;
  replicas: ReplicaTarget[];
  monitorIntervalMs: number;
  checkpointIntervalMs: number;
  minCheckpointPageN: number;
  truncatePageN: number;
  busyTimeoutMs: number;
  snapshotIntervalMs: number;
  /** Compaction interval for levels 1, 2 and 3. */
  levelIntervalsMs: [number, number, number];
  l0RetentionMs: number;
  shutdownSyncTimeoutMs: number;
  /** The owner renews a lease in each replica's fence record (opt-in: null makes no request). */
  lease?: { durationMs: number; renewIntervalMs: number } | null;
  /**
   * Runs this database's periodic jobs (poll, compaction, snapshot, validation and retention
   * checks); one shared by every database of a sidecar keeps their idle cost to one timer. Its own when unset.
   */
  scheduler?: PollScheduler;
}

/** How long closing a replica waits for operations still running after the shutdown deadline. */
const CLOSE_GRACE_MS = 2_000;

export class DbReplicator {
  readonly staging: Staging;
  readonly capture: DatabaseCapture;
  readonly shippers: ReplicaShipper[];
  private readonly stop = new AbortController();
  private readonly wake = new Wakeup();
  private watcher: DbWatcher | null = null;
  private jobs: PollHandle[] = [];
  private readonly scheduler: PollScheduler;
  /** A capture pass is asked for or running: an idle poll has nothing to add. */
  private passPending = false;
  /** Exclusive operations (capture passes, validation's capture, the final capture) queued or running. */
  private exclusiveQueued = 0;
  /** What staging and the replicas looked like at each level's last compaction (see compact()). */
  private readonly compactedAt = new Map<number, string>();
  /** Counts captures and compactions that wrote to staging. */
  private stagingWrites = 0;
  private captureRun: Promise<void> | null = null;
  private shipperRuns: Promise<void>[] = [];
  private snapshotWanted = false;
  private exclusive: Promise<unknown> = Promise.resolve();
  private maintenance: Promise<unknown> = Promise.resolve();
  /** The pending capture's timer (see capture-schedule.ts for when captures are asked for), and when it fires. */
  private captureTimer: NodeJS.Timeout | null = null;
  private captureDueAt = 0;
  /** When the last capture that wrote a level-0 file ended (group commit's spacing). */
  private lastCaptureAt = 0;
  /** The capture loop's pass is running: a commit seen now is spaced from it, as if it had just written. */
  private passRunning = false;
  /** Something other than the fallback poll asked for the pending pass. */
  private changeSignalled = false;
  /** The database file changed (a checkpoint, maybe waiting for the pin): the pending pass waits for no upload. */
  private checkpointSignalled = false;
  private stopping = false;
  private readonly captureWindowMs: number;
  private lastSnapshotAt = 0;
  private lastSnapshotTxid = 0;
  private waitingLogged = false;

  private readonly room: StagingRoom;
  private readonly checkpoints: CheckpointDriver;
  private readonly validator: ReplicaValidator;
  private lock: ReplicatorLock | null = null;
  private readonly identity: FenceIdentity;

  constructor(
    readonly opts: DbReplicatorOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics | null = null,
  ) {
    this.staging = new Staging(opts.dbPath);
    this.room = new StagingRoom(opts.dbPath, this.staging, log);
    this.validator = new ReplicaValidator({
      dbPath: opts.dbPath,
      scratchDir: this.staging.dir,
      drainTimeoutMs: opts.shutdownSyncTimeoutMs,
      log,
      metrics,
      onMismatch: () => this.wantSnapshot(),
    });
    this.capture = new DatabaseCapture(opts.dbPath, this.staging, log, opts.busyTimeoutMs);
    this.identity = new FenceIdentity(this.staging.dir);
    this.shippers = opts.replicas.map((r) => {
      const fence = new ReplicaFence(r.client, this.identity, log, { db: opts.dbPath, replica: r.name });
      return new ReplicaShipper(r.name, r.client, this.staging, log, r.syncIntervalMs, () => this.wantSnapshot(), metrics, fence);
    });
    this.captureWindowMs = captureWindowMs(opts.replicas.map((r) => r.syncIntervalMs), opts.monitorIntervalMs);
    this.scheduler = opts.scheduler ?? new PollScheduler();
    this.checkpoints = new CheckpointDriver(opts, this.capture, log, metrics, (c) => this.afterCapture(c), () => this.requestCapture('due'));
  }

  /** Free bytes on the database's volume, as of the last prune. */
  get volumeFreeBytes(): number | null {
    return this.room.freeBytes;
  }

  /** Bytes of LTX files in staging, as of the last prune. */
  get stagingBytes(): number {
    return this.room.stagedBytes;
  }

  get dbPath(): string {
    return this.opts.dbPath;
  }

  shipperStatus(): ShipperStatus[] {
    return this.shippers.map((s) => s.status());
  }

  async start(): Promise<void> {
    this.lock = await ReplicatorLock.acquire(this.staging.dir, this.dbPath);
    await this.identity.load();
    const stagedMax = await this.capture.loadPosition();
    const fences = this.shippers.map((s) => ({ name: s.name, fence: s.fence! }));
    const lease = this.opts.lease ?? null;
    const promoted = stagedMax === 0 ? await promoteFollower({ dbPath: this.dbPath, fences, capture: this.capture, leaseMs: lease?.durationMs ?? null, busyTimeoutMs: this.opts.busyTimeoutMs, log: this.log }) : null;
    const snaps = await this.staging.list(SNAPSHOT_LEVEL);
    const newest = snaps[snaps.length - 1] ?? promoted?.snapshot;
    if (newest) {
      this.lastSnapshotAt = newest.createdAt.getTime();
      this.lastSnapshotTxid = newest.maxTXID;
    }
    // Learn where each replica stands, so TXIDs already used there are never reused.
    await Promise.all(
      this.shippers.map(async (s) => {
        try {
          await s.discover();
          const remoteMax = Math.max(...LEVELS.map((l) => s.remoteMax(l)));
          if (remoteMax > stagedMax) this.capture.raiseTxidFloor(remoteMax);
          // Refuses (the start fails) when a newer owner holds the replica; claims it for a lease.
          await s.fence!.atStart(Math.max(remoteMax, stagedMax), lease?.durationMs ?? null);
        } catch (err) {
          if (s.fence!.fenced) throw s.fence!.fencedError();
          this.log.error({ db: this.dbPath, replica: s.name, event: 'replica_unreachable', err: (err as Error).message }, 'cannot list replica at start; will retry');
        }
      }),
    );
    if (this.shippers.some((s) => s.status().needsSnapshot)) this.snapshotWanted = true;
    void warnDiskcacheValues(this.dbPath, this.log);

    // With a capture window, commits are picked up by the poll, which runs at the window: every
    // WAL event would only wake walship to wait. Changes to the database file (checkpoints) always
    // wake it at once.
    const eventDriven = this.captureWindowMs === 0;
    this.watcher = new DbWatcher(
      this.dbPath,
      eventDriven,
      (what) => this.requestCapture(what),
      (err) => this.log.warn({ db: this.dbPath, event: 'watch_error', err: String(err) }, 'file watcher error; the fallback poll continues'),
    );
    this.watcher.start();

    // The poll (the fallback, when event-driven): a pass that finds the files as the last pass left
    // them does nothing but the idle pin moves. Every periodic job runs on the shared scheduler.
    const every = (ms: number, run: () => void): void => void this.jobs.push(this.scheduler.every(ms, run));
    every(eventDriven ? this.opts.monitorIntervalMs : this.captureWindowMs, () => this.poll());
    this.opts.levelIntervalsMs.forEach((ms, i) => every(ms, () => void this.compact(i + 1)));
    if (this.opts.snapshotIntervalMs > 0) every(Math.min(this.opts.snapshotIntervalMs, 60_000), () => this.checkSnapshotDue());
    this.opts.replicas.forEach((r) => {
      if (r.validationIntervalMs > 0) every(r.validationIntervalMs, () => void this.validate(r.name, true));
    });
    this.opts.replicas.forEach((r, i) => {
      const shipper = this.shippers[i]!;
      every(r.retentionCheckIntervalMs, () => void shipper.enforceRetention({ retentionMs: r.retentionMs, l0RetentionMs: this.opts.l0RetentionMs }));
    });
    if (lease) for (const s of this.shippers) every(lease.renewIntervalMs, () => void s.fence!.renew());
    this.captureRun = this.captureLoop();
    this.shipperRuns = this.shippers.map((s) => s.run(this.stop.signal));
    this.requestCapture('due');
  }

  /** Stops watching, captures and ships everything committed, then closes. True if all was shipped. */
  async shutdown(): Promise<boolean> {
    // The whole stop is bounded from here: SIGTERM may come from an orchestrator with a grace period.
    const deadline = Date.now() + this.opts.shutdownSyncTimeoutMs;
    this.stopping = true;
    if (this.captureTimer) clearTimeout(this.captureTimer);
    this.captureTimer = null;
    this.checkpoints.stop();
    for (const j of this.jobs) j.cancel();
    this.jobs = [];
    await this.watcher?.close();
    this.stop.abort();
    // Capture is local and ends promptly; a shipper may be inside an upload, which drain waits for
    // (up to the deadline) before its own pass.
    await this.captureRun?.catch(() => undefined);
    try {
      // The checksum lets the next start skip a full capture if the database stays as it is now.
      const last = await this.runExclusive(() => this.captureAndHandle({ checksum: true }));
      if (last?.checksum) await this.staging.writeCleanStop({ txid: last.checksum.txid, checksum: last.checksum.value });
    } catch (err) {
      this.log.error({ db: this.dbPath, event: 'final_capture_failed', err: (err as Error).message }, 'final capture failed');
    }
    // However the final capture went, what staging holds keeps its names (see Staging.write).
    await this.staging.syncNames().catch((err: unknown) => this.log.error({ db: this.dbPath, event: 'staging_sync_failed', err: (err as Error).message }, 'cannot fsync staging'));
    const results = await Promise.all(this.shippers.map((s) => s.drain(deadline)));
    await this.runMaintenance(() => this.pruneStaging()).catch(() => undefined);
    await this.capture.close();
    // Whatever still runs against a replica past the deadline is cut off.
    await Promise.all(this.shippers.map((s) => s.client.close(CLOSE_GRACE_MS).catch(() => undefined)));
    await Promise.allSettled(this.shipperRuns);
    this.lock?.release();
    const ok = results.every(Boolean);
    this.log.info({ db: this.dbPath, event: 'stopped', shipped: ok, txid: this.capture.position?.txid ?? 0 }, ok ? 'all committed transactions shipped' : 'stopped with unshipped files in staging');
    return ok;
  }

  /**
   * Checks replicas against the live database at one TXID: capture (with a checksum), ship, restore
   * into a temporary file, compare (replica-validator.ts). With `onlyIfChanged`, a replica already
   * validated at the current TXID is skipped.
   */
  validate(replicaName?: string, onlyIfChanged = false): Promise<ValidationResult[]> {
    const targets = this.shippers.filter((s) => !replicaName || s.name === replicaName);
    return this.validator.validate(targets, this.capture.position?.txid ?? 0, onlyIfChanged, () =>
      this.runExclusive(async () => {
        if (!(await this.capture.open())) return null;
        const r = await this.capture.capture({ snapshot: false, checksum: true });
        this.afterCapture(r);
        return r?.checksum ?? null;
      }),
    );
  }

  /**
   * The fallback poll. Idle, it is synchronous and touches no timer: two stats, a small read of the
   * WAL index and, right after a change, the pin's move (DatabaseCapture.idlePass). Anything else (the files changed, no pin yet, a snapshot wanted)
   * asks for a capture pass; while one is asked for or running, the poll has nothing to add.
   */
  private poll(): void {
    if (this.stop.signal.aborted || this.passPending || this.exclusiveQueued > 0) return;
    if (this.snapshotWanted) return this.requestCapture('poll');
    let idle = false;
    try {
      idle = this.capture.idlePass();
    } catch {
      // A stat or the pin's move failed: the capture pass reports it, with its backoff.
    }
    if (!idle) this.requestCapture('poll');
  }

  /**
   * Asks for a capture pass a few milliseconds from now, or at group commit's spacing (see
   * captureDelayMs); requests meanwhile join it, and one that is due sooner brings it forward.
   */
  private requestCapture(trigger: CaptureTrigger): void {
    if (this.stopping) return;
    if (trigger !== 'poll') this.changeSignalled = true;
    if (trigger === 'db') this.checkpointSignalled = true;
    this.passPending = true;
    const now = Date.now();
    const dueAt = now + captureDelayMs(trigger, this.captureWindowMs, this.passRunning ? now : this.lastCaptureAt, now);
    if (this.captureTimer) {
      if (dueAt >= this.captureDueAt) return;
      clearTimeout(this.captureTimer);
    }
    this.captureDueAt = dueAt;
    this.captureTimer = setTimeout(() => {
      this.captureTimer = null;
      this.wake.notify();
    }, dueAt - now);
  }

  /** The next capture takes a snapshot (`replicate -once -force-snapshot`). */
  forceSnapshot(): void {
    this.wantSnapshot();
  }

  private wantSnapshot(): void {
    if (this.snapshotWanted) return;
    this.snapshotWanted = true;
    this.requestCapture('due');
  }

  private checkSnapshotDue(): void {
    const txid = this.capture.position?.txid ?? 0;
    if (txid > this.lastSnapshotTxid && Date.now() - this.lastSnapshotAt >= this.opts.snapshotIntervalMs) this.wantSnapshot();
  }

  private async captureLoop(): Promise<void> {
    const backoff = new Backoff(100, 10_000);
    while (!this.stop.signal.aborted) {
      await this.wake.wait(Number.POSITIVE_INFINITY, this.stop.signal);
      if (this.stop.signal.aborted) break;
      // Group commit: commits made while the last file is still being uploaded go into the next one.
      // Not when an application's checkpoint may be waiting for the pin.
      if (this.captureWindowMs === 0 && !this.checkpointSignalled) await Promise.all(this.shippers.map((s) => s.uploadSettled(GROUP_COMMIT_MAX_WAIT_MS)));
      this.checkpointSignalled = false;
      const ifChanged = !this.changeSignalled;
      this.changeSignalled = false;
      try {
        this.passRunning = true;
        await this.runExclusive(() => this.captureAndHandle({ ifChanged })).finally(() => (this.passRunning = false));
        // Cleared only when no new request came in during the pass.
        if (!this.captureTimer) this.passPending = false;
        backoff.reset();
      } catch (err) {
        const e = err as Error;
        if (!(e instanceof NotWalModeError) && (await statOrNull(this.dbPath).catch(() => undefined)) === null) {
          // Removed while the pass ran (SQLite then fails with a disk I/O error): the next pass waits
          // for it, and in directory mode the scan lets it go (dir-monitor.ts). Not walship's failure.
          this.log.warn({ db: this.dbPath, event: 'database_removed', err: e.message }, 'the database was removed during a capture');
        } else {
          // Not being in WAL mode yet is expected while the application sets the database up.
          const event = e instanceof NotWalModeError ? 'not_wal_mode' : 'capture_failed';
          this.log.error({ db: this.dbPath, event, err: e.message }, 'capture failed; retrying');
        }
        await sleep(backoff.next(), this.stop.signal);
        this.requestCapture('due');
      }
    }
  }

  private async captureAndHandle(extra: { checksum?: boolean; ifChanged?: boolean } = {}): Promise<CaptureResult | null> {
    if (!(await this.capture.open())) {
      this.watcher?.refresh();
      if (!this.waitingLogged) this.log.info({ db: this.dbPath, event: 'waiting_for_database' }, 'database does not exist yet; waiting');
      this.waitingLogged = true;
      return null;
    }
    this.waitingLogged = false;
    const snapshot = this.snapshotWanted;
    const result = await this.capture.capture({ snapshot, ...extra });
    if (this.capture.skippedUnchanged) return null;
    this.watcher?.refresh();
    if (snapshot && result?.snapshot) this.snapshotWanted = false;
    this.afterCapture(result);
    await this.checkpoints.afterCapture();
    return result;
  }

  private afterCapture(result: CaptureResult | null): void {
    if (!result) return;
    const labels = { db: this.dbPath };
    if (result.l0) {
      this.lastCaptureAt = Date.now();
      this.metrics?.captures.inc(labels);
      this.room.added(result.l0.size);
      for (const s of this.shippers) s.noteCaptured(result.l0.maxTXID, result.l0.createdAt.getTime());
    }
    if (result.fullReason) {
      this.metrics?.fullCaptures.inc({ ...labels, reason: result.fullReason });
    }
    if (result.snapshot) {
      this.lastSnapshotAt = result.snapshot.createdAt.getTime();
      this.lastSnapshotTxid = result.snapshot.maxTXID;
      this.metrics?.snapshots.inc(labels);
      this.room.added(result.snapshot.size);
      this.log.info({ db: this.dbPath, event: 'snapshot', txid: result.snapshot.maxTXID, bytes: result.snapshot.size }, 'snapshot staged');
    }
    if (result.l0 || result.snapshot) {
      this.stagingWrites++;
      for (const s of this.shippers) s.notify();
    }
  }

  /**
   * Compacts staging's `level` and prunes what every replica holds. Skipped when neither staging nor
   * any replica moved since this level's last run: the run would read six directories and find
   * nothing (a level compacts only what arrived since its last file), once per interval per database.
   */
  private async compact(level: number): Promise<void> {
    const key = `${this.stagingWrites}|${this.room.volumeLow}|${this.shippers.map((s) => LEVELS.map((l) => s.remoteMax(l)).join(',')).join(';')}`;
    if (this.compactedAt.get(level) === key) {
      // The volume is still watched (a stat and a statfs): its warning and recovery do not wait for
      // a change, and a change of state makes the next run a full one (the key holds it).
      if (level === 1) await this.runMaintenance(() => this.room.checkVolume()).catch(() => undefined);
      return;
    }
    try {
      const made = await this.runMaintenance(async () => {
        const files = await compactStagedLevel(this.staging, level);
        await this.pruneStaging();
        return files;
      });
      for (const f of made) this.log.debug({ db: this.dbPath, event: 'compacted', level, min: f.minTXID, max: f.maxTXID }, 'compacted');
      if (made.length > 0) {
        this.stagingWrites++;
        for (const s of this.shippers) s.notify();
      }
      this.compactedAt.set(level, key);
    } catch (err) {
      this.log.error({ db: this.dbPath, event: 'compaction_failed', level, err: (err as Error).message }, 'compaction failed');
    }
  }

  private pruneStaging(): Promise<void> {
    return this.room.prune(this.shippers, this.opts.replicas.map((r) => r.backlogLimitBytes));
  }

  private runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.exclusiveQueued++;
    const next = this.exclusive.then(fn, fn).finally(() => this.exclusiveQueued--);
    this.exclusive = next.catch(() => undefined);
    return next;
  }

  private runMaintenance<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.maintenance.then(fn, fn);
    this.maintenance = next.catch(() => undefined);
    return next;
  }
}
