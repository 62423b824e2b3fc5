// Ships staged LTX files to one replica, on its own loop and position, so a slow or dead replica
// stalls neither capture nor the other replicas.
import { unlinkIfExists } from '../util/fs.js';
import type { Logger } from 'pino';
import type { Metrics } from '../server/metrics.js';
import { ReplicaConflictError, type LtxFileInfo, type ReplicaClient } from '../replica/client.js';
import { COMPACTION_LEVELS, describeFile, LEVELS, SNAPSHOT_LEVEL } from '../replica/layout.js';
import { listReplica } from '../replica/listing.js';
import { Backoff } from '../util/backoff.js';
import { l0Run, mergeL0Run } from './l0-merge.js';
import { FencedError, type ReplicaFence } from './replica-fence.js';
import { filesToDelete, type RetentionPolicy } from './retention.js';
import type { Staging } from './staging.js';
import { sleep, Wakeup } from '../util/wakeup.js';

/** How long a read of the fence record that found this replicator the owner is trusted for level-0 uploads. */
const FENCE_RECHECK_MS = 1000;

export interface ShipperStatus {
  name: string;
  /** Highest TXID the replica holds at each level. */
  remote: Record<number, number>;
  lastSyncAt: Date | null;
  lastError: string | null;
  /** The replica cannot continue from what staging holds and waits for a snapshot. */
  needsSnapshot: boolean;
  lagSeconds: number;
  backlogOverflowed: boolean;
  /** Set once a newer owner fenced this replicator off the replica: who, in one line. */
  fencedBy: string | null;
}

export class ReplicaShipper {
  private readonly remote = new Map<number, number>();
  private known = false;
  private readonly wake = new Wakeup();
  /** When the last pass that uploaded a level-0 file (or failed) began: the sync interval counts from there. */
  private lastShipAt = 0;
  /** Level-0 files uploaded so far. */
  private l0Uploads = 0;
  private lastSyncAt: Date | null = null;
  private lastError: string | null = null;
  private needsSnapshot = false;
  // A short cap: a replica that comes back should be caught up within seconds, not half a minute.
  private readonly backoff = new Backoff(250, 5_000);
  /** Captured level-0 TXIDs the replica does not hold yet, with their capture times (for lag). */
  private readonly unshipped = new Map<number, number>();
  /** Set when the backlog passed its bound: staging no longer waits for this replica. */
  private overflowed = false;
  private uploadedSinceRetention = false;
  /** Set when another replicator's file sits under one of our TXIDs: shipping here stops for good. */
  private conflict: ReplicaConflictError | null = null;
  /** The fence was read in this shipping pass (once per pass, before its first upload). */
  /** When the fence record last said this replicator owns the replica (0: not since the start). */
  private fenceCheckedAt = 0;

  constructor(
    readonly name: string,
    readonly client: ReplicaClient,
    private readonly staging: Staging,
    private readonly log: Logger,
    private readonly syncIntervalMs: number,
    /** Called when the replica needs a level-9 snapshot that staging does not have. */
    private readonly requestSnapshot: () => void,
    private readonly metrics: Metrics | null = null,
    readonly fence: ReplicaFence | null = null,
  ) {}

  private get labels(): { db: string; replica: string } {
    return { db: this.staging.dbPath, replica: this.name };
  }

  /** Seconds since the oldest transaction this replica still lacks was captured; 0 when caught up. */
  lagSeconds(now = Date.now()): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const t of this.unshipped.values()) oldest = Math.min(oldest, t);
    return Number.isFinite(oldest) ? Math.max(0, (now - oldest) / 1000) : 0;
  }

  /** A new level-0 file exists in staging. */
  noteCaptured(txid: number, capturedAt: number): void {
    if (txid > this.remoteMax(0)) this.unshipped.set(txid, capturedAt);
    this.notify();
  }

  /** Whether staging must keep files for this replica: false once its backlog overflowed. */
  get holdsStaging(): boolean {
    return !this.overflowed;
  }

  /** The backlog passed its bound: stop holding staging; the replica heals with a snapshot later. */
  markOverflowed(): void {
    if (this.overflowed) return;
    this.overflowed = true;
    this.metrics?.backlogOverflows.inc(this.labels);
    this.log.error(
      { ...this.labels, event: 'backlog_overflow' },
      'replica backlog passed its limit; staged files are no longer kept for it, and it will be healed with a snapshot when it is back',
    );
  }


  status(): ShipperStatus {
    return {
      name: this.name,
      remote: Object.fromEntries(this.remote),
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
      needsSnapshot: this.needsSnapshot,
      lagSeconds: this.lagSeconds(),
      backlogOverflowed: this.overflowed,
      fencedBy: this.fence?.fenced ? this.fence.fencedError().message : null,
    };
  }

  /** Highest TXID at a level on the replica, or 0. */
  remoteMax(level: number): number {
    return this.remote.get(level) ?? 0;
  }

  /**
   * Deletes what retention allows. Runs only when something was uploaded since the last run, so an
   * idle database causes no listing at all.
   */
  async enforceRetention(policy: RetentionPolicy): Promise<number> {
    // A fenced replicator deletes nothing from the history another owner now keeps.
    if (!this.uploadedSinceRetention || this.fence?.fenced) return 0;
    try {
      const doomed = filesToDelete(await listReplica(this.client), Date.now(), policy);
      if (doomed.length > 0) await this.client.deleteLtxFiles(doomed);
      this.uploadedSinceRetention = false;
      if (doomed.length > 0) this.log.info({ ...this.labels, event: 'retention', deleted: doomed.length }, 'retention removed old files');
      return doomed.length;
    } catch (err) {
      this.recordError(err);
      return 0;
    }
  }

  /** Lists the replica once, to learn where it stands. */
  async discover(): Promise<void> {
    for (const level of LEVELS) {
      const files = await this.client.listLtxFiles(level);
      this.remote.set(level, files.reduce((m, f) => Math.max(m, f.maxTXID), 0));
    }
    this.known = true;
    if (this.remoteMax(SNAPSHOT_LEVEL) === 0) this.needsSnapshot = true;
  }

  notify(): void {
    this.wake.notify();
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.wake.wait(Number.POSITIVE_INFINITY, signal);
      if (signal.aborted) break;
      const wait = this.lastShipAt + this.syncIntervalMs - Date.now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) break;
      try {
        await this.shipPending();
        this.backoff.reset();
        this.metrics?.syncs.inc(this.labels);
      } catch (err) {
        this.metrics?.syncErrors.inc(this.labels);
        this.recordError(err);
        this.known = false;
        await sleep(this.backoff.next(), signal);
        this.wake.notify();
      }
    }
  }

  /**
   * Ships everything staged; used at shutdown. Retries until `deadline` (ms since epoch) and returns
   * by then even if an upload hangs (closing the client afterwards cuts that upload off).
   */
  async drain(deadline: number): Promise<boolean> {
    // A replica that was down is tried at once: its reconnect backoff could outlast the deadline.
    this.client.retryNow();
    for (;;) {
      const pass = this.shipPending();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), Math.max(0, deadline - Date.now()))));
      try {
        const left = await Promise.race([pass, expired]);
        if (left === 0) return true;
        if (left === 'expired') {
          // It goes on failing or finishing in the background; its error is recorded there.
          pass.catch((err: unknown) => this.recordError(err));
          return false;
        }
      } catch (err) {
        this.recordError(err);
        this.known = false;
        if (err instanceof FencedError) return false;
      } finally {
        clearTimeout(timer);
      }
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(this.backoff.next(), Math.max(0, deadline - Date.now())));
    }
  }

  private inFlight: Promise<number> | null = null;

  /**
   * Resolves once the pass in flight (if any) is over, or after `maxMs`: for group commit. A replica
   * that is failing is not waited for.
   */
  uploadSettled(maxMs: number): Promise<void> {
    const pass = this.inFlight;
    if (!pass || this.lastError !== null) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)));
    return Promise.race([pass.then(() => undefined, () => undefined), bound]).finally(() => clearTimeout(timer));
  }

  /** Uploads what the replica lacks, oldest first. Returns how many files still wait. One pass at a time. */
  async shipPending(): Promise<number> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    this.inFlight = this.shipPendingOnce();
    try {
      return await this.inFlight;
    } finally {
      this.inFlight = null;
    }
  }

  private async shipPendingOnce(): Promise<number> {
    const started = Date.now();
    const before = this.l0Uploads;
    try {
      const waiting = await this.shipPendingFrom();
      // A pass that uploaded no level-0 file does not start an interval: woken by a second notice
      // for a capture it had already shipped, it used to run just before the next capture and hold
      // that one's file back a whole interval (lag p99 at the default 1.8 s instead of 1 s).
      if (this.l0Uploads !== before) this.lastShipAt = started;
      return waiting;
    } catch (err) {
      // A failing replica is tried again no more often than the interval (or the backoff, if longer).
      this.lastShipAt = started;
      throw err;
    }
  }

  private async shipPendingFrom(): Promise<number> {
    if (this.conflict) throw this.conflict;
    if (this.fence?.fenced) throw this.fence.fencedError();
    if (!this.known) await this.discover();
    let waiting = 0;
    const l0 = await this.staging.list(0);
    const snaps = await this.staging.list(SNAPSHOT_LEVEL);
    // Level 0 holds everything since the last level-1 compaction (a thousand files at 0s): the
    // replica's position is looked up once, not once per file (a profile at 0s found this filter
    // at 1% of the main thread when it did).
    const shipped = this.remoteMax(0);
    const pending = l0.filter((f) => f.maxTXID > shipped);
    // A level-0 file's name must be durable before the file leaves the machine (see Staging.write):
    // otherwise a power cut could take the name while the replica keeps the file, and a start that
    // cannot reach the replica would capture different commits under the same TXID.
    if (pending.length > 0) await this.staging.syncNames();
    for (let i = 0; i < pending.length; ) {
      const f = pending[i]!;
      if (f.minTXID > this.reach() + 1) await this.bridge(f.minTXID - 1);
      const reach = this.reach();
      if (f.minTXID > reach + 1) {
        // Compacted files cannot close the gap either: the replica first needs a snapshot.
        const snap = snaps.filter((s) => s.maxTXID >= f.minTXID - 1 && s.maxTXID > this.remoteMax(SNAPSHOT_LEVEL)).pop();
        if (!snap) {
          this.needsSnapshot = true;
          this.requestSnapshot();
          waiting++;
          break;
        }
        await this.upload(snap);
        if (f.maxTXID <= this.reach()) {
          i++;
          continue;
        }
      }
      const run = l0Run(pending, i, this.syncIntervalMs);
      if (run.length === 1) await this.upload(f);
      else await this.uploadMerged(run);
      i += run.length;
    }
    for (const level of [...COMPACTION_LEVELS, SNAPSHOT_LEVEL]) {
      for (const f of await this.staging.list(level)) {
        if (f.maxTXID > this.remoteMax(level)) await this.upload(f);
      }
    }
    // A replica without any snapshot is still restorable from TXID 1, so this one is not a backlog.
    if (this.needsSnapshot && this.remoteMax(SNAPSHOT_LEVEL) === 0) this.requestSnapshot();
    if (waiting === 0) {
      this.lastSyncAt = new Date();
      this.lastError = null;
    }
    return waiting;
  }

  /** Uploads staged compacted files (highest level first) that extend the replica's reach toward `target`. */
  private async bridge(target: number): Promise<void> {
    const staged = (await Promise.all([...COMPACTION_LEVELS].reverse().map((l) => this.staging.list(l)))).flat();
    for (let i = 0; i < staged.length && this.reach() < target; i++) {
      const reach = this.reach();
      const next = staged
        .filter((c) => c.minTXID <= reach + 1 && c.maxTXID > reach)
        .reduce<LtxFileInfo | null>((best, c) => (!best || c.maxTXID > best.maxTXID ? c : best), null);
      if (!next) return;
      await this.upload(next);
    }
  }

  /** How far a restore from this replica reaches without a gap, as far as shipping knows. */
  private reach(): number {
    return Math.max(...LEVELS.map((l) => this.remoteMax(l)));
  }

  /** Uploads a run of staged level-0 files as one file. */
  private async uploadMerged(run: LtxFileInfo[]): Promise<void> {
    const merged = await mergeL0Run(this.staging, run);
    try {
      await this.upload(merged.info, merged.path);
    } finally {
      await unlinkIfExists(merged.path);
    }
  }

  private async upload(f: LtxFileInfo, localPath = this.staging.filePath(f.level, f.minTXID, f.maxTXID)): Promise<void> {
    const started = Date.now();
    // A newer owner (a promoted standby) may have claimed the replica since: read the record before
    // a level-0 upload at most once per FENCE_RECHECK_MS (at sync-interval 0s a read per file would
    // double the requests), and before each compacted file or snapshot (rare, and written over a
    // name without the exclusive check that level-0 files get).
    if (this.fence && (f.level !== 0 || started - this.fenceCheckedAt >= FENCE_RECHECK_MS)) {
      await this.fence.ensureOwner();
      this.fenceCheckedAt = Date.now();
    }
    try {
      // Level-0 names are unique to one history: finding someone else's file there means a fork.
      await this.client.writeLtxFile(f, localPath, { exclusive: f.level === 0 });
    } catch (err) {
      if (err instanceof ReplicaConflictError) {
        this.conflict = err;
        this.log.error(
          { ...this.labels, event: 'replica_conflict', file: describeFile(f), err: err.message },
          'another replicator writes to this replica; shipping to it stops rather than fork its history',
        );
      }
      throw err;
    }
    if (f.level === 0) this.l0Uploads++;
    this.remote.set(f.level, Math.max(this.remoteMax(f.level), f.maxTXID));
    this.metrics?.bytesShipped.inc(this.labels, f.size);
    this.uploadedSinceRetention = true;
    if (f.level === SNAPSHOT_LEVEL) this.needsSnapshot = false;
    const reach = this.reach();
    for (const txid of this.unshipped.keys()) if (txid <= reach) this.unshipped.delete(txid);
    if (this.overflowed && f.level === 0) this.overflowed = false;
    this.log.debug(
      { db: this.staging.dbPath, replica: this.name, event: 'uploaded', file: describeFile(f), bytes: f.size, ms: Date.now() - started },
      'uploaded',
    );
  }

  private recordError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    // Being fenced was logged once, where it was found.
    if (message !== this.lastError && !(err instanceof FencedError)) {
      this.log.error({ db: this.staging.dbPath, replica: this.name, event: 'ship_failed', err: message }, 'shipping failed; retrying with backoff');
    }
    this.lastError = message;
  }
}
