// The cost side of capture: the replica gets at most one level-0 file per sync interval, a bulk load
// leaves no checkpoint loop behind, and commits captured but not yet uploaded survive a kill -9.
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
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

function checkpointEvents(logs: string): number {
  return logs.split('\n').filter((l) => l.includes('"event":"checkpoint"')).length;
}

async function restoreExact(w: Workdir, k: number, payload: string): Promise<void> {
  const out = path.join(w.dir, 'out.db');
  const r = await runWalship(['restore', '-integrity-check', 'full', '-o', out, `file://${w.replica}`]);
  expect(r.stderr).toBe('');
  expect(checkRestored(out, payload).k).toBe(k);
  expect(dump(out)).toBe(dump(w.db));
}

describe('after a bulk load', () => {
  it('an emptied WAL draws no more checkpoints while the database is idle', async () => {
    work = makeWorkdir();
    writeFileSync(work.config, readFileSync(work.config, 'utf8').replace(`  - path: ${work.db}\n`, `  - path: ${work.db}\n    truncate-page-n: 200\n`));
    const walship = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    // Transaction 25 of the mixed payload is 10 MB: about 2,500 WAL pages, past truncate-page-n.
    await runWriter('node', { db: work.db, from: 1, to: 30, payload: 'mixed', autocheckpoint: 0 });
    await walship.waitForEvent('checkpoint');
    await sleep(1500);
    const before = checkpointEvents(walship.logs());
    await sleep(3000);
    // Before the fix: TRUNCATEs of an empty WAL, hundreds a second, each logged.
    expect(checkpointEvents(walship.logs()) - before).toBeLessThanOrEqual(1);
    expect(await walship.stop()).toBe(0);
    await restoreExact(work, 30, 'mixed');
  });
});

describe('sync-interval', () => {
  it('means at most one level-0 file per interval on the replica, whatever the commit rate', async () => {
    work = makeWorkdir();
    writeFileSync(work.config, readFileSync(work.config, 'utf8').replace('sync-interval: 0s', 'sync-interval: 2s'));
    const walship = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    const started = Date.now();
    await runWriter('python', { db: work.db, from: 1, to: 300, payload: 'small', delayMs: 20 });
    const seconds = (Date.now() - started) / 1000;
    expect(await walship.stop()).toBe(0);
    const l0 = ltxFiles(work.replica, 0);
    // One file per 2 s interval, plus the first capture and the one the stop ships.
    expect(l0.length).toBeLessThanOrEqual(Math.ceil(seconds / 2) + 2);
    expect(l0.length).toBeLessThan(300 / 10);
    await restoreExact(work, 300, 'small');
  });

  it('never costs a commit: one captured but not yet uploaded survives a kill -9 and ships after the restart', async () => {
    work = makeWorkdir();
    writeFileSync(work.config, readFileSync(work.config, 'utf8').replace('sync-interval: 0s', 'sync-interval: 1h'));
    let walship = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db: work.db, from: 1, to: 50, payload: 'small', delayMs: 5, autocheckpoint: 0 });
    // Captured into staging (the capture window is monitor-interval, 1 s), not uploaded (1 h).
    await sleep(2500);
    const staged = ltxFiles(path.join(work.dir, '.app.db-walship'), 0);
    expect(staged.length).toBeGreaterThan(1);
    expect(await walship.stop('SIGKILL')).toBe(null);
    walship = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    expect(await walship.stop()).toBe(0);
    await restoreExact(work, 50, 'small');
  });
});
