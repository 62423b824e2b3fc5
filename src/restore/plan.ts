// Chooses the files that rebuild a database at a target: the newest snapshot at or before it, then
// the contiguous chain that reaches furthest, preferring higher (compacted) levels. Pure.
import type { LtxFileInfo } from '../replica/client.js';
import { RESTORE_LEVELS, SNAPSHOT_LEVEL } from '../replica/layout.js';

export interface RestoreTarget {
  /** Restore up to and including this TXID. */
  txid?: number;
  /** Restore the last state committed at or before this time. */
  timestamp?: Date;
}

export class RestorePlanError extends Error {
  override name = 'RestorePlanError';
}

export type LevelListing = ReadonlyMap<number, readonly LtxFileInfo[]>;

export function planRestore(listing: LevelListing, target: RestoreTarget = {}): LtxFileInfo[] {
  if (target.txid !== undefined && target.timestamp) throw new RestorePlanError('give a TXID or a timestamp, not both');
  const fits = (f: LtxFileInfo): boolean =>
    (target.txid === undefined || f.maxTXID <= target.txid) &&
    (!target.timestamp || f.createdAt.getTime() <= target.timestamp.getTime());

  const plan: LtxFileInfo[] = [];
  let reached = 0;
  const snapshots = (listing.get(SNAPSHOT_LEVEL) ?? []).filter(fits);
  const best = snapshots.reduce<LtxFileInfo | null>((b, s) => (!b || s.maxTXID > b.maxTXID ? s : b), null);
  if (best) {
    plan.push(best);
    reached = best.maxTXID;
  }

  const candidates = incrementalFiles(listing);
  plan.push(...chainFrom(candidates, reached, fits));
  reached = restoredTxid(plan);

  if (plan.length === 0) throw new RestorePlanError('no snapshot or TXID 1 file at or before the target; nothing to restore from');
  if (target.txid !== undefined && reached < target.txid) {
    throw new RestorePlanError(`TXID ${target.txid} is not reachable: the chain ends at ${reached}`);
  }
  if (target.txid === undefined && !target.timestamp) {
    // Restoring "latest" must not silently stop short at a gap.
    const beyond = candidates.filter((f) => f.maxTXID > reached);
    if (beyond.length > 0) {
      const first = beyond.reduce((a, b) => (b.minTXID < a.minTXID ? b : a));
      throw new RestorePlanError(`gap in the replica: files reach TXID ${reached}, the next starts at ${first.minTXID}`);
    }
  } else if (target.timestamp) {
    // A gap before the newest file that is old enough also makes the point in time unreachable.
    const older = candidates.filter((f) => f.maxTXID > reached && fits(f));
    if (older.length > 0) {
      const first = older.reduce((a, b) => (b.minTXID < a.minTXID ? b : a));
      throw new RestorePlanError(`gap in the replica: files reach TXID ${reached}, the next starts at ${first.minTXID}`);
    }
  }
  return plan;
}

export function restoredTxid(plan: readonly LtxFileInfo[]): number {
  return plan.length ? plan[plan.length - 1]!.maxTXID : 0;
}

/** Every file of the compaction levels and level 0, highest level first. */
export function incrementalFiles(listing: LevelListing): LtxFileInfo[] {
  return RESTORE_LEVELS.filter((l) => l !== SNAPSHOT_LEVEL).flatMap((l) => listing.get(l) ?? []);
}

/**
 * The contiguous chain of files that continues a database at TXID `from`: at each step the file
 * that reaches furthest (a higher level on a tie). Overlap is harmless: a file holds the newest copy
 * of each page it touches, so applying it over a later state of those pages gives the same result.
 */
export function chainFrom(candidates: readonly LtxFileInfo[], from: number, fits: (f: LtxFileInfo) => boolean = () => true): LtxFileInfo[] {
  const chain: LtxFileInfo[] = [];
  let reached = from;
  for (;;) {
    let next: LtxFileInfo | null = null;
    for (const f of candidates) {
      if (f.minTXID > reached + 1 || f.maxTXID <= reached || !fits(f)) continue;
      if (!next || f.maxTXID > next.maxTXID || (f.maxTXID === next.maxTXID && f.level > next.level)) next = f;
    }
    if (!next) return chain;
    chain.push(next);
    reached = next.maxTXID;
  }
}
