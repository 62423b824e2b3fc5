// Compaction levels and snapshots are built from staging and must restore exactly on their own.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

describe('compaction', () => {
  it('level 1-3 files alone (level 0 deleted) restore the same database', async () => {
    work = makeWorkdir(`levels:
  - interval: 1s
  - interval: 2s
  - interval: 3s
`);
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await runWriter('python', { db, from: 1, to: 60, payload: 'mixed', autocheckpoint: 50, vacuumAt: 30, delayMs: 60 });
    await new Promise((r) => setTimeout(r, 4000)); // let every level run at least once after the last write
    expect(await walship.stop()).toBe(0);
    for (const level of [1, 2, 3]) expect(ltxFiles(replica, level).length, `level ${level}`).toBeGreaterThan(0);

    // Keep only the snapshot and the highest levels: the plan must still reach the last TXID.
    const l0 = ltxFiles(replica, 0);
    const lastL0 = path.basename(l0.at(-1)!);
    const l3Max = path.basename(ltxFiles(replica, 3).at(-1)!).slice(17, 33);
    for (const f of [...l0, ...ltxFiles(replica, 1)]) {
      const max = path.basename(f).slice(17, 33);
      if (max <= l3Max) rmSync(f);
    }
    const out = path.join(dir, 'restored.db');
    const r = await runWalship(['restore', '-o', out, `file://${replica}`]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'mixed').k).toBe(60);
    expect(dump(out)).toBe(dump(db));
    expect(lastL0.slice(17, 33) >= l3Max).toBe(true);
  });
});

describe('retention', () => {
  it('removes expired snapshots and covered files, and the latest restore stays exact', async () => {
    work = makeWorkdir(
      `levels:
  - interval: 1s
l0-retention: 1s
`,
      `        retention: 2s
        retention-check-interval: 1s
        snapshot-interval: 1s
`,
    );
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await runWriter('node', { db, from: 1, to: 70, payload: 'small', delayMs: 80 });
    await new Promise((r) => setTimeout(r, 3500));
    expect(await walship.stop()).toBe(0);
    const snapshots = ltxFiles(replica, 9);
    const snapshotEvents = walship.logs().split('"event":"snapshot"').length - 1;
    expect(snapshotEvents).toBeGreaterThan(3);
    // Old snapshots went; the base of the window and newer ones stayed.
    expect(snapshots.length).toBeLessThan(snapshotEvents);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(walship.logs()).toContain('"event":"retention"');
    // Level-0 files covered by level 1 and older than l0-retention went too.
    const l0 = ltxFiles(replica, 0).map((p) => Number.parseInt(path.basename(p).slice(0, 16), 16));
    expect(l0.length === 0 || Math.min(...l0) > 1).toBe(true);
    const out = path.join(dir, 'restored.db');
    const r = await runWalship(['restore', '-o', out, `file://${replica}`]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(70);
    expect(dump(out)).toBe(dump(db));
  });
});
