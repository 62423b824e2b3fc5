// What staging may drop, and which replicas' backlogs passed their bound: pure decisions over the
// staged listing and where each replica stands (DbReplicator.pruneStaging applies them).
import type { LtxFileInfo } from '../replica/client.js';
import { LEVELS, SNAPSHOT_LEVEL, TOP_COMPACTION_LEVEL } from '../replica/layout.js';

export interface ReplicaStanding {
  /** Highest TXID the replica holds at a level. */
  remoteMax: (level: number) => number;
  /** False once the replica's backlog overflowed: staging no longer waits for it. */
  holdsStaging: boolean;
  backlogLimitBytes: number;
}

/** A backlog never needs to pass this: past it, a snapshot of the database is the cheaper cure. */
export const MIN_BACKLOG_BOUND_BYTES = 64 * 1024 * 1024;

/**
 * The backlog a replica may leave in staging: the configured `backlog-limit`, but never more than
 * twice the database (at least MIN_BACKLOG_BOUND_BYTES): staging grows with write volume, not with
 * the database, and past that bound healing the replica with a snapshot ships less anyway.
 */
export function backlogBoundBytes(configuredBytes: number, dbBytes: number): number {
  return Math.min(configuredBytes, Math.max(MIN_BACKLOG_BOUND_BYTES, 2 * dbBytes));
}

export interface PrunePlan {
  /** Staged files every replica holds and a higher level covers. */
  remove: LtxFileInfo[];
  /** Bytes staging holds after the removals. */
  keptBytes: number;
  /** Indexes (into the replicas given) whose backlog is past its limit. */
  overflowed: number[];
}

/**
 * `volumeLow`: the database's volume is nearly full. Staging then stops waiting for any replica that
 * is behind (each heals with a snapshot later) and keeps no file a higher level has yet to cover
 * once every replica holds it: walship must never be why the application's write fails.
 */
export function planStagingPrune(
  staged: ReadonlyMap<number, readonly LtxFileInfo[]>,
  replicas: readonly ReplicaStanding[],
  opts: { volumeLow?: boolean } = {},
): PrunePlan {
  const files = (l: number): readonly LtxFileInfo[] => staged.get(l) ?? [];
  const maxAt = (l: number): number => files(l).reduce((m, f) => Math.max(m, f.maxTXID), 0);
  const overflowed: number[] = [];
  replicas.forEach((r, i) => {
    const backlog = LEVELS.flatMap((l) => files(l)).filter((f) => f.maxTXID > r.remoteMax(f.level)).reduce((n, f) => n + f.size, 0);
    if (backlog > r.backlogLimitBytes || (opts.volumeLow && backlog > 0)) overflowed.push(i);
  });
  const remove: LtxFileInfo[] = [];
  let keptBytes = 0;
  for (const level of LEVELS) {
    const list = files(level);
    // The newest file of each level stays: it marks the capture position and compaction progress.
    for (const f of list.slice(0, -1)) {
      const shipped = replicas.every((r, i) => !r.holdsStaging || overflowed.includes(i) || r.remoteMax(level) >= f.maxTXID);
      const covered = opts.volumeLow === true || level === TOP_COMPACTION_LEVEL || level === SNAPSHOT_LEVEL || maxAt(level + 1) >= f.maxTXID;
      if (shipped && covered) remove.push(f);
      else keptBytes += f.size;
    }
    keptBytes += list.at(-1)?.size ?? 0;
  }
  return { remove, keptBytes, overflowed };
}
