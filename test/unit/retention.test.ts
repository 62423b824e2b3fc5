import { describe, expect, it } from 'vitest';
import type { LtxFileInfo } from '../../src/replica/client.js';
import { filesToDelete } from '../../src/replication/retention.js';
import { planRestore } from '../../src/restore/plan.js';

const H = 3_600_000;
const now = Date.UTC(2026, 0, 2, 12);
const f = (level: number, min: number, max: number, ageMs: number): LtxFileInfo => ({ level, minTXID: min, maxTXID: max, size: 1, createdAt: new Date(now - ageMs) });

function listing(files: LtxFileInfo[]): Map<number, LtxFileInfo[]> {
  const m = new Map<number, LtxFileInfo[]>();
  for (const l of [0, 1, 2, 3, 9]) m.set(l, files.filter((x) => x.level === l));
  return m;
}

describe('retention', () => {
  const files = [
    f(9, 1, 10, 50 * H),
    f(9, 1, 40, 30 * H),
    f(9, 1, 80, 10 * H),
    ...Array.from({ length: 100 }, (_, i) => f(0, i + 1, i + 1, (100 - i) * 0.5 * H)),
    f(1, 1, 60, 20 * H),
    f(1, 61, 95, 2 * H),
  ];
  const doomed = filesToDelete(listing(files), now, { retentionMs: 24 * H, l0RetentionMs: 5 * 60_000 });
  const kept = files.filter((x) => !doomed.includes(x));

  it('keeps the base snapshot for the window and everything newer, drops older snapshots', () => {
    expect(kept.filter((x) => x.level === 9).map((x) => x.maxTXID)).toEqual([40, 80]);
  });

  it('drops level 0 covered by level 1 once older than l0-retention, and anything the base covers', () => {
    expect(kept.filter((x) => x.level === 0).map((x) => x.maxTXID)).toEqual([96, 97, 98, 99, 100]);
    expect(kept.filter((x) => x.level === 1).map((x) => x.maxTXID)).toEqual([60, 95]);
  });

  it('leaves every point in the window restorable, latest included', () => {
    const after = listing(kept);
    expect(planRestore(after).at(-1)!.maxTXID).toBe(100);
    const plan = planRestore(after, { timestamp: new Date(now - 24 * H) });
    expect(plan[0]!.maxTXID).toBe(40);
  });

  it('never deletes the only snapshot', () => {
    const only = [f(9, 1, 5, 100 * H), f(0, 6, 6, 99 * H)];
    expect(filesToDelete(listing(only), now, { retentionMs: H, l0RetentionMs: 0 })).toEqual([]);
  });
});
