// How much room a database's staging takes on the application's volume: what staging may drop
// (whatever every replica holds, and what a replica past its backlog bound no longer keeps), and the
// watch on the volume's free space (volume_low / volume_ok, once per change). The decisions are
// staging-policy.ts's; this is their I/O and the state they need between runs.
import { promises as fsp } from 'node:fs';
import type { Logger } from 'pino';
import type { LtxFileInfo } from '../replica/client.js';
import { LEVELS } from '../replica/layout.js';
import { backlogBoundBytes, planStagingPrune } from './staging-policy.js';
import type { Staging } from './staging.js';

/** Free space under this much (or under the database's size, if that is more) is "low". */
const VOLUME_LOW_BYTES = 256 * 1024 * 1024;

/** What the prune needs of each replica's shipper. */
export interface StagingHolder {
  remoteMax(level: number): number;
  readonly holdsStaging: boolean;
  markOverflowed(): void;
}

export class StagingRoom {
  private staged = 0;
  private free: number | null = null;
  private low = false;

  constructor(
    private readonly dbPath: string,
    private readonly staging: Staging,
    private readonly log: Logger,
  ) {}

  /** Bytes of LTX files in staging, as of the last prune plus what was staged since. */
  get stagedBytes(): number {
    return this.staged;
  }

  /** Free bytes on the database's volume, as of the last check. */
  get freeBytes(): number | null {
    return this.free;
  }

  get volumeLow(): boolean {
    return this.low;
  }

  /** A capture staged a file of `bytes`. */
  added(bytes: number): void {
    this.staged += bytes;
  }

  /**
   * Drops staged files that every replica holds and that a higher level already covers. A replica
   * whose backlog passed its bound stops holding files back; it is healed with a snapshot later.
   * `backlogLimits[i]` is replica i's configured backlog-limit.
   */
  async prune(holders: readonly StagingHolder[], backlogLimits: readonly number[]): Promise<void> {
    const staged = new Map<number, readonly LtxFileInfo[]>();
    for (const l of LEVELS) staged.set(l, await this.staging.list(l));
    const dbBytes = await this.checkVolume();
    const plan = planStagingPrune(
      staged,
      holders.map((h, i) => ({
        remoteMax: (l: number) => h.remoteMax(l),
        holdsStaging: h.holdsStaging,
        backlogLimitBytes: backlogBoundBytes(backlogLimits[i]!, dbBytes),
      })),
      { volumeLow: this.low },
    );
    for (const i of plan.overflowed) holders[i]!.markOverflowed();
    for (const f of plan.remove) await this.staging.remove(f);
    this.staged = plan.keptBytes;
  }

  /**
   * Staging shares the application's volume. Says so, once per change, when that volume's free space
   * falls under VOLUME_LOW_BYTES or the database's size (whichever is more), and when it recovers.
   * Returns the database's size.
   */
  async checkVolume(): Promise<number> {
    const dbBytes = (await fsp.stat(this.dbPath).catch(() => null))?.size ?? 0;
    const st = await fsp.statfs(this.staging.dir).catch(() => null);
    if (!st) return dbBytes;
    this.free = st.bavail * st.bsize;
    const low = this.free < Math.max(VOLUME_LOW_BYTES, dbBytes);
    if (low === this.low) return dbBytes;
    this.low = low;
    const fields = { db: this.dbPath, event: low ? 'volume_low' : 'volume_ok', freeBytes: this.free, stagedBytes: this.staged, dbBytes };
    if (low) this.log.warn(fields, "the database's volume is nearly full; staging keeps only what every replica still needs, and a replica that is behind will be healed with a snapshot");
    else this.log.info(fields, "the database's volume has room again");
    return dbBytes;
  }
}
