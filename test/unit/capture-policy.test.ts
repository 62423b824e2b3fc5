import { describe, expect, it } from 'vitest';
import { captureDelayMs, captureWindowMs, COALESCE_MS, GROUP_COMMIT_GATHER_MS } from '../../src/replication/capture-schedule.js';
import { chooseCheckpoint, idleCheckpointDueAt } from '../../src/replication/checkpoint-policy.js';
import { l0Run } from '../../src/replication/l0-merge.js';
import type { LtxFileInfo } from '../../src/replica/client.js';

describe('capture window', () => {
  it('is the shortest sync interval, never longer than monitor-interval', () => {
    expect(captureWindowMs([0], 1000)).toBe(0);
    expect(captureWindowMs([1000], 1000)).toBe(1000);
    expect(captureWindowMs([300_000], 1000)).toBe(1000);
    expect(captureWindowMs([300_000, 250], 1000)).toBe(250);
  });
});

describe('capture delay (group commit at sync-interval 0s)', () => {
  const G = GROUP_COMMIT_GATHER_MS;
  it('captures a commit after a quiet spell at once, and a stream of commits at most once per gather time', () => {
    expect(captureDelayMs('wal', 0, 0, 1_000_000)).toBe(COALESCE_MS);
    expect(captureDelayMs('wal', 0, 1_000_000 - G - 1, 1_000_000)).toBe(COALESCE_MS);
    expect(captureDelayMs('wal', 0, 1_000_000 - 5, 1_000_000)).toBe(G - 5);
    expect(captureDelayMs('wal', 0, 1_000_000 - G + 1, 1_000_000)).toBe(COALESCE_MS);
    expect(captureDelayMs('wal', 0, 1_000_000, 1_000_000)).toBe(G);
  });
  it('never waits longer than the gather time, even if the clock stepped back', () => {
    expect(captureDelayMs('wal', 0, 2_000_000, 1_000_000)).toBe(G);
  });
  it('does not hold back a checkpoint, the poll or a timed job, nor any capture with a window', () => {
    for (const t of ['db', 'poll', 'due'] as const) expect(captureDelayMs(t, 0, 1_000_000, 1_000_000)).toBe(COALESCE_MS);
    expect(captureDelayMs('wal', 1000, 1_000_000, 1_000_000)).toBe(COALESCE_MS);
  });
});

describe('checkpoint policy', () => {
  const t = { minCheckpointPageN: 500, truncatePageN: 10_000, checkpointIntervalMs: 60_000 };

  it('truncates past truncate-page-n, checkpoints PASSIVE past the page count or after the interval', () => {
    expect(chooseCheckpoint({ walFrames: 10_000, framesSinceCheckpoint: 10, msSinceCheckpoint: 0 }, t)).toBe('TRUNCATE');
    expect(chooseCheckpoint({ walFrames: 600, framesSinceCheckpoint: 500, msSinceCheckpoint: 0 }, t)).toBe('PASSIVE');
    expect(chooseCheckpoint({ walFrames: 600, framesSinceCheckpoint: 499, msSinceCheckpoint: 59_999 }, t)).toBeNull();
    expect(chooseCheckpoint({ walFrames: 600, framesSinceCheckpoint: 1, msSinceCheckpoint: 60_000 }, t)).toBe('PASSIVE');
    expect(chooseCheckpoint({ walFrames: 600, framesSinceCheckpoint: 0, msSinceCheckpoint: 600_000 }, t)).toBeNull();
  });

  it('does nothing to an empty WAL, however long ago the last checkpoint was (the bulk-load loop)', () => {
    expect(chooseCheckpoint({ walFrames: 0, framesSinceCheckpoint: 0, msSinceCheckpoint: 10_000_000 }, t)).toBeNull();
    expect(idleCheckpointDueAt({ walFrames: 0, framesSinceCheckpoint: 0, msSinceCheckpoint: 0 }, 5, t)).toBeNull();
  });

  it('schedules the idle PASSIVE only while frames wait for it', () => {
    expect(idleCheckpointDueAt({ walFrames: 40, framesSinceCheckpoint: 40, msSinceCheckpoint: 0 }, 1000, t)).toBe(61_000);
    expect(idleCheckpointDueAt({ walFrames: 40, framesSinceCheckpoint: 0, msSinceCheckpoint: 0 }, 1000, t)).toBeNull();
  });
});

describe('level-0 runs that go up as one file', () => {
  const f = (min: number, max: number, size = 100, at = 0): LtxFileInfo => ({ level: 0, minTXID: min, maxTXID: max, size, createdAt: new Date(at) });
  const HOUR = 3_600_000;

  it('take contiguous files from the start index', () => {
    const pending = [f(3, 3), f(4, 4), f(5, 6), f(8, 8), f(9, 9)];
    expect(l0Run(pending, 0, HOUR).map((x) => x.maxTXID)).toEqual([3, 4, 6]);
    expect(l0Run(pending, 3, HOUR).map((x) => x.maxTXID)).toEqual([8, 9]);
    expect(l0Run(pending, 4, HOUR)).toHaveLength(1);
  });

  it('stop at the size bound, but always hold the first file', () => {
    const pending = [f(1, 1, 900), f(2, 2, 200), f(3, 3, 50)];
    expect(l0Run(pending, 0, HOUR, 1000)).toHaveLength(1);
    expect(l0Run(pending, 1, HOUR, 1000)).toHaveLength(2);
    expect(l0Run([f(1, 1, 5000)], 0, HOUR, 1000)).toHaveLength(1);
  });

  it('hold one sync interval of captures: a drained backlog keeps its point-in-time granularity', () => {
    const pending = [f(1, 1, 100, 0), f(2, 2, 100, 400), f(3, 3, 100, 999), f(4, 4, 100, 1000), f(5, 5, 100, 1500)];
    expect(l0Run(pending, 0, 1000).map((x) => x.maxTXID)).toEqual([1, 2, 3]);
    expect(l0Run(pending, 3, 1000).map((x) => x.maxTXID)).toEqual([4, 5]);
    // sync-interval 0: every capture goes up on its own.
    expect(l0Run(pending, 0, 0)).toHaveLength(1);
  });
});
