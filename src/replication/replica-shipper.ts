// Ships staged LTX files to one replica, on its own loop and position, so a slow or dead replica
// stalls neither capture nor the other replicas.
import type { Logger } from 'pino';
import { describeFile, SNAPSHOT_LEVEL, type LtxFileInfo, type ReplicaClient } from '../replica/client.js';
import { Backoff } from './backoff.js';
import type { Staging } from './staging.js';
import { sleep, Wakeup } from './wakeup.js';

const SHIP_LEVELS = [0, 1, 2, 3, SNAPSHOT_LEVEL] as const;

export interface ShipperStatus {
  name: string;
  /** Highest TXID the replica holds at each level. */
  remote: Record<number, number>;
  lastSyncAt: Date | null;
  lastError: string | null;
  /** The replica cannot continue from what staging holds and waits for a snapshot. */
  needsSnapshot: boolean;
}

export class ReplicaShipper {
  private readonly remote = new Map<number, number>();
  private known = false;
  private readonly wake = new Wakeup();
  private lastShipAt = 0;
  private lastSyncAt: Date | null = null;
  private lastError: string | null = null;
  private needsSnapshot = false;
  private readonly backoff = new Backoff();

  constructor(
    readonly name: string,
    readonly client: ReplicaClient,
    private readonly staging: Staging,
    private readonly log: Logger,
    private readonly syncIntervalMs: number,
    /** Called when the replica needs a level-9 snapshot that staging does not have. */
    private readonly requestSnapshot: () => void,
  ) {}

  status(): ShipperStatus {
    return {
      name: this.name,
      remote: Object.fromEntries(this.remote),
      lastSyncAt: this.lastSyncAt,
      lastError: this.lastError,
      needsSnapshot: this.needsSnapshot,
    };
  }

  /** Highest TXID at a level on the replica, or 0. */
  remoteMax(level: number): number {
    return this.remote.get(level) ?? 0;
  }

  get isKnown(): boolean {
    return this.known;
  }

  /** Lists the replica once, to learn where it stands. */
  async discover(): Promise<void> {
    for (const level of SHIP_LEVELS) {
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
      } catch (err) {
        this.recordError(err);
        this.known = false;
        await sleep(this.backoff.next(), signal);
        this.wake.notify();
      }
    }
  }

  /** Ships everything staged; used at shutdown. Retries until `deadline` (ms since epoch). */
  async drain(deadline: number): Promise<boolean> {
    for (;;) {
      try {
        const left = await this.shipPending();
        if (left === 0) return true;
      } catch (err) {
        this.recordError(err);
        this.known = false;
      }
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(this.backoff.next(), Math.max(0, deadline - Date.now())));
    }
  }

  /** Uploads what the replica lacks, oldest first. Returns how many files still wait. */
  async shipPending(): Promise<number> {
    if (!this.known) await this.discover();
    this.lastShipAt = Date.now();
    let waiting = 0;
    const l0 = await this.staging.list(0);
    const snaps = await this.staging.list(SNAPSHOT_LEVEL);
    for (const f of l0) {
      if (f.maxTXID <= this.remoteMax(0)) continue;
      const reach = this.reach();
      if (f.minTXID > reach + 1) {
        // The replica cannot continue from here: it first needs a snapshot that covers the gap.
        const snap = snaps.filter((s) => s.maxTXID >= f.minTXID - 1 && s.maxTXID > this.remoteMax(SNAPSHOT_LEVEL)).pop();
        if (!snap) {
          this.needsSnapshot = true;
          this.requestSnapshot();
          waiting++;
          break;
        }
        await this.upload(snap);
        if (f.maxTXID <= this.reach()) continue;
      }
      await this.upload(f);
    }
    for (const level of [1, 2, 3, SNAPSHOT_LEVEL]) {
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

  /** How far a restore from this replica reaches without a gap, as far as shipping knows. */
  private reach(): number {
    return Math.max(...SHIP_LEVELS.map((l) => this.remoteMax(l)));
  }

  private async upload(f: LtxFileInfo): Promise<void> {
    const started = Date.now();
    await this.client.writeLtxFile(f, this.staging.filePath(f.level, f.minTXID, f.maxTXID));
    this.remote.set(f.level, Math.max(this.remoteMax(f.level), f.maxTXID));
    if (f.level === SNAPSHOT_LEVEL) this.needsSnapshot = false;
    this.log.debug(
      { db: this.staging.dbPath, replica: this.name, event: 'uploaded', file: describeFile(f), bytes: f.size, ms: Date.now() - started },
      'uploaded',
    );
  }

  private recordError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (message !== this.lastError) {
      this.log.error({ db: this.staging.dbPath, replica: this.name, event: 'ship_failed', err: message }, 'shipping failed; retrying with backoff');
    }
    this.lastError = message;
  }
}
