import { describe, expect, it } from 'vitest';
import type { LtxFileInfo } from '../../src/replica/client.js';
import { planRestore, RestorePlanError, restoredTxid, type LevelListing, type RestoreTarget } from '../../src/restore/plan.js';

const T0 = Date.parse('2024-05-01T00:00:00Z');

/** A file at `level` covering min..max, created `max` minutes after T0 unless told otherwise. */
function f(level: number, min: number, max: number, createdMinute = max): LtxFileInfo {
  return { level, minTXID: min, maxTXID: max, size: 100, createdAt: new Date(T0 + createdMinute * 60_000) };
}

const at = (minute: number): Date => new Date(T0 + minute * 60_000);

function listing(...files: LtxFileInfo[]): LevelListing {
  const m = new Map<number, LtxFileInfo[]>();
  for (const file of files) m.set(file.level, [...(m.get(file.level) ?? []), file]);
  for (const list of m.values()) list.sort((a, b) => a.minTXID - b.minTXID);
  return m;
}

/** The plan as "level:min-max" strings, easy to read in a failure. */
function plan(l: LevelListing, target?: RestoreTarget): string[] {
  return planRestore(l, target).map((x) => `${x.level}:${x.minTXID}-${x.maxTXID}`);
}

function planError(l: LevelListing, target?: RestoreTarget): string {
  try {
    planRestore(l, target);
  } catch (err) {
    expect(err).toBeInstanceOf(RestorePlanError);
    return (err as Error).message;
  }
  throw new Error('planRestore did not refuse');
}

describe('planRestore to the latest state', () => {
  it('takes the snapshot, then the chain of level-0 files after it', () => {
    const l = listing(f(9, 1, 10), f(0, 11, 11), f(0, 12, 12), f(0, 13, 15));
    expect(plan(l)).toEqual(['9:1-10', '0:11-11', '0:12-12', '0:13-15']);
  });

  it('takes the newest snapshot, skipping files it already covers', () => {
    const l = listing(f(9, 1, 10), f(9, 1, 20), f(0, 11, 11), f(0, 12, 20), f(0, 21, 21));
    expect(plan(l)).toEqual(['9:1-20', '0:21-21']);
  });

  it('a snapshot newer than every other file is the whole plan', () => {
    const l = listing(f(9, 1, 30), f(0, 11, 11), f(1, 1, 20));
    expect(plan(l)).toEqual(['9:1-30']);
  });

  it('prefers the file that reaches furthest, whatever its level', () => {
    const l = listing(f(9, 1, 10), f(3, 11, 40), f(1, 11, 20), f(1, 21, 30), f(0, 11, 11), f(0, 41, 41));
    expect(plan(l)).toEqual(['9:1-10', '3:11-40', '0:41-41']);
  });

  it('on a tie in reach prefers the higher level', () => {
    const l = listing(f(9, 1, 10), f(1, 11, 20), f(2, 11, 20), f(0, 11, 20));
    expect(plan(l)).toEqual(['9:1-10', '2:11-20']);
    const l2 = listing(f(9, 1, 10), f(0, 11, 20), f(1, 11, 20));
    expect(plan(l2)).toEqual(['9:1-10', '1:11-20']);
  });

  it('accepts a compacted file that overlaps what is already applied', () => {
    const l = listing(f(9, 1, 10), f(1, 5, 20), f(0, 21, 22));
    expect(plan(l)).toEqual(['9:1-10', '1:5-20', '0:21-22']);
  });

  it('climbs back to a higher level after a lower one bridges a step', () => {
    const l = listing(f(9, 1, 10), f(0, 11, 11), f(2, 12, 50), f(1, 12, 30));
    expect(plan(l)).toEqual(['9:1-10', '0:11-11', '2:12-50']);
  });

  it('with no snapshot, starts from a level-0 file at TXID 1', () => {
    const l = listing(f(0, 1, 1), f(0, 2, 2), f(0, 3, 4));
    expect(plan(l)).toEqual(['0:1-1', '0:2-2', '0:3-4']);
  });

  it('with no snapshot, starts from a compacted file at TXID 1', () => {
    const l = listing(f(1, 1, 8), f(0, 1, 1), f(0, 9, 9));
    expect(plan(l)).toEqual(['1:1-8', '0:9-9']);
  });

  it('refuses when nothing starts at TXID 1 and there is no snapshot', () => {
    expect(planError(listing(f(0, 5, 5), f(0, 6, 6)))).toMatch(/no snapshot or TXID 1 file/);
  });

  it('refuses an empty replica', () => {
    expect(planError(new Map())).toMatch(/nothing to restore/);
  });

  it('refuses a gap instead of restoring short of it, naming where it is', () => {
    const l = listing(f(9, 1, 10), f(0, 11, 11), f(0, 12, 12), f(0, 14, 14), f(0, 15, 15));
    expect(planError(l)).toBe('gap in the replica: files reach TXID 12, the next starts at 14');
  });

  it('refuses a gap right after the snapshot', () => {
    const l = listing(f(9, 1, 10), f(1, 13, 20));
    expect(planError(l)).toBe('gap in the replica: files reach TXID 10, the next starts at 13');
  });
});

describe('planRestore to a TXID', () => {
  const l = listing(f(9, 1, 10), f(9, 1, 20), f(1, 11, 20), f(0, 11, 11), f(0, 12, 12), f(0, 13, 13), f(0, 21, 21), f(0, 22, 22));

  it('takes the newest snapshot at or before the TXID', () => {
    expect(plan(l, { txid: 12 })).toEqual(['9:1-10', '0:11-11', '0:12-12']);
    expect(plan(l, { txid: 21 })).toEqual(['9:1-20', '0:21-21']);
  });

  it('stops exactly at the TXID, using small files when a compacted one would overshoot', () => {
    expect(plan(l, { txid: 13 })).toEqual(['9:1-10', '0:11-11', '0:12-12', '0:13-13']);
  });

  it('a snapshot ending at the TXID is the whole plan', () => {
    expect(plan(l, { txid: 10 })).toEqual(['9:1-10']);
    expect(plan(l, { txid: 20 })).toEqual(['9:1-20']);
  });

  it('refuses a TXID beyond the newest file, naming both', () => {
    expect(planError(l, { txid: 23 })).toBe('TXID 23 is not reachable: the chain ends at 22');
  });

  it('refuses a TXID that falls inside a gap', () => {
    expect(planError(l, { txid: 15 })).toBe('TXID 15 is not reachable: the chain ends at 13');
  });

  it('refuses a TXID inside a compacted file with no smaller files to stop on', () => {
    const only = listing(f(9, 1, 10), f(1, 11, 20));
    expect(planError(only, { txid: 15 })).toBe('TXID 15 is not reachable: the chain ends at 10');
  });

  it('refuses a TXID and a timestamp together', () => {
    expect(planError(l, { txid: 12, timestamp: at(12) })).toMatch(/not both/);
  });
});

describe('planRestore to a timestamp', () => {
  // TXID n was created at minute n, except the compacted file, written at minute 100.
  const l = listing(f(9, 1, 10), f(9, 1, 20, 25), f(0, 11, 11), f(0, 12, 12), f(0, 13, 13), f(1, 11, 13, 100), f(0, 14, 14));

  it('uses only files created at or before the timestamp', () => {
    expect(plan(l, { timestamp: at(12) })).toEqual(['9:1-10', '0:11-11', '0:12-12']);
  });

  it('includes a file created exactly at the timestamp', () => {
    expect(plan(l, { timestamp: at(13) })).toEqual(['9:1-10', '0:11-11', '0:12-12', '0:13-13']);
  });

  it('a timestamp between two files stops at the earlier one', () => {
    expect(plan(l, { timestamp: new Date(at(12).getTime() + 30_000) })).toEqual(['9:1-10', '0:11-11', '0:12-12']);
  });

  it('skips a snapshot created after the timestamp even if it covers older TXIDs', () => {
    expect(plan(l, { timestamp: at(24) })).toEqual(['9:1-10', '0:11-11', '0:12-12', '0:13-13', '0:14-14']);
    expect(plan(l, { timestamp: at(25) })).toEqual(['9:1-20']);
  });

  it('refuses a timestamp before the first snapshot', () => {
    expect(planError(l, { timestamp: at(9) })).toMatch(/no snapshot or TXID 1 file at or before the target/);
  });

  it('refuses a gap before a file old enough to be wanted', () => {
    const gap = listing(f(9, 1, 10), f(0, 11, 11), f(0, 13, 13));
    expect(planError(gap, { timestamp: at(13) })).toBe('gap in the replica: files reach TXID 11, the next starts at 13');
    // A gap only after the timestamp does not matter.
    expect(plan(gap, { timestamp: at(12) })).toEqual(['9:1-10', '0:11-11']);
  });
});

describe('restoredTxid', () => {
  it('is the max TXID of the last file, or 0 for an empty plan', () => {
    expect(restoredTxid([f(9, 1, 10), f(0, 11, 14)])).toBe(14);
    expect(restoredTxid([])).toBe(0);
  });
});
