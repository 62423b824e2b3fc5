// A follower's next step from what the replica lists: level 0 alone when it can decide, every level
// when it cannot, a snapshot when retention removed what would continue it.
import { describe, expect, it } from 'vitest';
import { FULL_LISTING_EVERY, stepFromLevel0, stepFromListing } from '../../src/follow/plan.js';
import type { LtxFileInfo } from '../../src/replica/client.js';

const f = (level: number, minTXID: number, maxTXID: number, t = 0): LtxFileInfo => ({ level, minTXID, maxTXID, size: 100, createdAt: new Date(t) });
const listing = (...files: LtxFileInfo[]): Map<number, LtxFileInfo[]> => {
  const m = new Map<number, LtxFileInfo[]>([[9, []], [3, []], [2, []], [1, []], [0, []]]);
  for (const x of files) m.get(x.level)!.push(x);
  return m;
};
const at = (txid: number, mustReach = txid) => ({ txid, mustReach });

describe('stepFromLevel0', () => {
  it('caught up when level 0 ends at the follower', () => {
    expect(stepFromLevel0([f(0, 4, 5), f(0, 6, 6)], at(6), 1, false)).toEqual({ kind: 'caught-up', replicaTxid: 6 });
  });

  it('applies the level-0 chain that continues the follower', () => {
    const step = stepFromLevel0([f(0, 4, 5), f(0, 6, 6), f(0, 7, 9)], at(5), 1, false);
    expect(step).toMatchObject({ kind: 'apply', replicaTxid: 9 });
    expect(step?.kind === 'apply' && step.files.map((x) => x.maxTXID)).toEqual([6, 9]);
  });

  it('needs every level when level 0 starts after the follower (compacted away or retention)', () => {
    expect(stepFromLevel0([f(0, 20, 21)], at(5), 1, false)).toBeNull();
  });

  it('an empty level 0 is caught up only after a full listing said so, and not forever', () => {
    expect(stepFromLevel0([], at(5), 1, false)).toBeNull();
    expect(stepFromLevel0([], at(5), 1, true)).toEqual({ kind: 'caught-up', replicaTxid: 5 });
    expect(stepFromLevel0([], at(5), FULL_LISTING_EVERY, true)).toBeNull();
  });

  it('a follower that stopped half-way through a file needs a step that reaches past it', () => {
    expect(stepFromLevel0([f(0, 6, 6), f(0, 7, 7)], at(5, 7), 1, false)).toBeNull();
    expect(stepFromLevel0([f(0, 6, 7)], at(5, 7), 1, false)).toMatchObject({ kind: 'apply' });
  });
});

describe('stepFromListing', () => {
  it('bridges from higher levels when level 0 is gone', () => {
    const step = stepFromListing(listing(f(9, 1, 3), f(1, 4, 10), f(2, 1, 8), f(0, 11, 12)), at(5));
    expect(step.kind).toBe('apply');
    expect(step.kind === 'apply' && step.files.map((x) => `${x.level}:${x.minTXID}-${x.maxTXID}`)).toEqual(['1:4-10', '0:11-12']);
  });

  it('resyncs from the newest snapshot when nothing continues the follower', () => {
    const step = stepFromListing(listing(f(9, 1, 3), f(9, 1, 20), f(0, 21, 22)), at(5));
    expect(step.kind).toBe('resync');
    expect(step.kind === 'resync' && step.files.map((x) => `${x.level}:${x.maxTXID}`)).toEqual(['9:20', '0:22']);
  });

  it('is caught up, or says the replica is behind (another history)', () => {
    expect(stepFromListing(listing(f(9, 1, 5)), at(5))).toEqual({ kind: 'caught-up', replicaTxid: 5 });
    expect(stepFromListing(listing(f(9, 1, 3)), at(5))).toEqual({ kind: 'replica-behind', replicaTxid: 3 });
  });
});
