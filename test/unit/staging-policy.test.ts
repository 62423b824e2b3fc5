import { describe, expect, it } from 'vitest';
import type { LtxFileInfo } from '../../src/replica/client.js';
import { backlogBoundBytes, planStagingPrune, type ReplicaStanding } from '../../src/replication/staging-policy.js';

const f = (level: number, min: number, max: number, size = 100): LtxFileInfo => ({ level, minTXID: min, maxTXID: max, size, createdAt: new Date(0) });
const at = (levels: Record<number, number>, extra: Partial<ReplicaStanding> = {}): ReplicaStanding => ({
  remoteMax: (l) => levels[l] ?? 0,
  holdsStaging: true,
  backlogLimitBytes: 1e9,
  ...extra,
});

describe('staging prune plan', () => {
  const staged = new Map<number, LtxFileInfo[]>([
    [0, [f(0, 1, 1), f(0, 2, 2), f(0, 3, 3), f(0, 4, 4)]],
    [1, [f(1, 1, 3)]],
    [9, [f(9, 1, 1), f(9, 1, 3)]],
  ]);

  it('drops what every replica holds and a higher level covers, keeping the newest of each level', () => {
    const plan = planStagingPrune(staged, [at({ 0: 4, 1: 3, 9: 3 }), at({ 0: 4, 1: 3, 9: 3 })]);
    expect(plan.remove.map((x) => `${x.level}:${x.maxTXID}`)).toEqual(['0:1', '0:2', '0:3', '9:1']);
    expect(plan.keptBytes).toBe(300);
    expect(plan.overflowed).toEqual([]);
  });

  it('keeps files a lagging replica still needs', () => {
    const plan = planStagingPrune(staged, [at({ 0: 4, 1: 3, 9: 3 }), at({ 0: 1, 1: 0, 9: 1 })]);
    expect(plan.remove.map((x) => `${x.level}:${x.maxTXID}`)).toEqual(['0:1', '9:1']);
  });

  it('stops waiting for a replica whose backlog passed its limit, and says which', () => {
    const plan = planStagingPrune(staged, [at({ 0: 4, 1: 3, 9: 3 }), at({}, { backlogLimitBytes: 500 })]);
    expect(plan.overflowed).toEqual([1]);
    expect(plan.remove.map((x) => `${x.level}:${x.maxTXID}`)).toEqual(['0:1', '0:2', '0:3', '9:1']);
  });

  it('never drops level-0 files no higher level covers yet', () => {
    const plan = planStagingPrune(new Map([[0, [f(0, 1, 1), f(0, 2, 2)]]]), [at({ 0: 2 })]);
    expect(plan.remove).toEqual([]);
  });

  it('on a nearly full volume, stops waiting for replicas that are behind and keeps nothing every replica holds', () => {
    const behind = at({ 0: 2, 1: 0, 9: 1 });
    const plan = planStagingPrune(staged, [at({ 0: 4, 1: 3, 9: 3 }), behind], { volumeLow: true });
    expect(plan.overflowed).toEqual([1]);
    expect(plan.remove.map((x) => `${x.level}:${x.maxTXID}`)).toEqual(['0:1', '0:2', '0:3', '9:1']);
    // Without the low volume, the lagging replica holds level 0 back.
    expect(planStagingPrune(staged, [at({ 0: 4, 1: 3, 9: 3 }), behind]).remove.map((x) => `${x.level}:${x.maxTXID}`)).toEqual(['0:1', '0:2', '9:1']);
  });

  it('bounds a backlog by twice the database (64 MiB at least), never above backlog-limit', () => {
    const MiB = 1024 * 1024;
    expect(backlogBoundBytes(1024 * MiB, 10 * MiB)).toBe(64 * MiB);
    expect(backlogBoundBytes(1024 * MiB, 100 * MiB)).toBe(200 * MiB);
    expect(backlogBoundBytes(1024 * MiB, 5000 * MiB)).toBe(1024 * MiB);
    expect(backlogBoundBytes(16 * MiB, 10 * MiB)).toBe(16 * MiB);
  });
});
