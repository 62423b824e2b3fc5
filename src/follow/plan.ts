// What a follower does next, from what the replica lists. Pure.
//
// Level 0 alone usually decides it, in one request: new commits appear there first, and a level-0
// file is deleted only once a higher level covers it. Higher levels are listed when level 0 does
// not reach the follower's position (it fell behind, or compaction took level 0 away), and now and
// then while level 0 is empty, so that nothing compaction moved up is missed.
import type { LtxFileInfo } from '../replica/client.js';
import { chainFrom, incrementalFiles, planRestore, type LevelListing } from '../restore/plan.js';

/** While level 0 is empty and the follower is caught up, list every level once in this many polls. */
export const FULL_LISTING_EVERY = 60;

export type FollowStep =
  | { kind: 'caught-up'; replicaTxid: number }
  /** Files that continue the follower's database, in order. */
  | { kind: 'apply'; files: LtxFileInfo[]; replicaTxid: number }
  /** No chain continues from the follower (retention removed it): a snapshot and its chain. */
  | { kind: 'resync'; files: LtxFileInfo[]; replicaTxid: number }
  /** The replica's history ends before the follower's position: another history, not ours. */
  | { kind: 'replica-behind'; replicaTxid: number };

export interface FollowState {
  /** TXID the follower's database holds. */
  txid: number;
  /** Its next state must reach at least this TXID (a file was half-way through when it stopped). */
  mustReach: number;
}

/** Decides from level 0 alone, or returns null when every level must be listed. */
export function stepFromLevel0(l0: readonly LtxFileInfo[], state: FollowState, pollsSinceFullListing: number, lastFullWasCaughtUp: boolean): FollowStep | null {
  if (l0.length === 0) return lastFullWasCaughtUp && pollsSinceFullListing < FULL_LISTING_EVERY ? { kind: 'caught-up', replicaTxid: state.txid } : null;
  const max = Math.max(...l0.map((f) => f.maxTXID));
  if (max <= state.txid && state.mustReach <= state.txid) return max === state.txid ? { kind: 'caught-up', replicaTxid: max } : null;
  const chain = chainFrom(l0, state.txid);
  if (chain.length === 0 || chain[0]!.maxTXID < state.mustReach) return null;
  return { kind: 'apply', files: chain, replicaTxid: max };
}

/** Decides from every level. Throws RestorePlanError when the replica cannot be restored at all. */
export function stepFromListing(listing: LevelListing, state: FollowState): FollowStep {
  const all = [...listing.values()].flat();
  const replicaTxid = all.reduce((m, f) => Math.max(m, f.maxTXID), 0);
  const chain = chainFrom(incrementalFiles(listing), state.txid);
  if (chain.length > 0 && chain[0]!.maxTXID >= state.mustReach) return { kind: 'apply', files: chain, replicaTxid };
  if (replicaTxid < state.mustReach) return { kind: 'replica-behind', replicaTxid };
  if (replicaTxid === state.txid && state.mustReach <= state.txid) return { kind: 'caught-up', replicaTxid };
  return { kind: 'resync', files: planRestore(listing), replicaTxid };
}
