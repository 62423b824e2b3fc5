// walship's own checkpoints: PASSIVE past min-checkpoint-page-count and TRUNCATE past
// truncate-page-n, each after capturing everything, so nothing is lost.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

const run = promisify(execFile);

let work: Workdir | null = null;

/** Adds per-database keys (one per line) to the workdir's config. */
function setDbKeys(w: Workdir, keys: string): void {
  const indented = keys.split('\n').map((k) => `    ${k}\n`).join('');
  writeFileSync(w.config, readFileSync(w.config, 'utf8').replace(`  - path: ${w.db}\n`, `  - path: ${w.db}\n${indented}`));
}
afterEach(() => {
  work?.cleanup();
  work = null;
});

describe('walship checkpoints', () => {
  it('runs PASSIVE and TRUNCATE checkpoints on its thresholds and loses nothing', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    // The writer never checkpoints itself: the WAL only shrinks through walship.
    setDbKeys(work, 'min-checkpoint-page-count: 20\ntruncate-page-n: 120');
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('python', { db, from: 1, to: 80, payload: 'mixed', autocheckpoint: 0, delayMs: 10 });
    const passive = await walship.waitForEvent('checkpoint');
    expect(walship.logs()).toContain('"mode":"PASSIVE"');
    expect(walship.logs()).toContain('"mode":"TRUNCATE"');
    expect(passive.busy).toBe(0);
    expect(walship.logs()).not.toContain('"mode":"RESTART"');
    // At least one TRUNCATE went through (busy 0): the WAL was emptied while writes went on.
    const truncates = walship
      .logs()
      .split('\n')
      .filter((l) => l.includes('"event":"checkpoint"') && l.includes('"mode":"TRUNCATE"'))
      .map((l) => JSON.parse(l) as { busy: number });
    expect(truncates.some((t) => t.busy === 0)).toBe(true);
    expect(await walship.stop()).toBe(0);
    const out = path.join(dir, 'out.db');
    const r = await runWalship(['restore', '-integrity-check', 'full', '-o', out, `file://${replica}`]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'mixed').k).toBe(80);
    expect(dump(out)).toBe(dump(db));
  });
});

describe('walship PASSIVE checkpoints under a nonstop writer', () => {
  it('copy frames while the application keeps committing, and every commit is still shipped', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    // A PASSIVE checkpoint after every capture, and no TRUNCATE.
    setDbKeys(work, 'min-checkpoint-page-count: 1\ntruncate-page-n: 1000000');
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await Promise.all([
      runWriter('node', { db, from: 1, to: 400, payload: 'mixed', autocheckpoint: 0, delayMs: 3 }),
      runWriter('python', { db, from: 1001, to: 1400, payload: 'mixed', autocheckpoint: 0, delayMs: 3 }),
    ]);
    expect(await walship.stop()).toBe(0);
    const passives = walship
      .logs()
      .split('\n')
      .filter((l) => l.includes('"event":"checkpoint"') && l.includes('"mode":"PASSIVE"'))
      .map((l) => JSON.parse(l) as { checkpointed: number });
    // How many depends on how captures coalesce commits on a loaded machine (4 seen under load).
    expect(passives.length).toBeGreaterThanOrEqual(2);
    expect(passives.some((p) => p.checkpointed > 0)).toBe(true);
    expect(walship.logs()).not.toContain('"mode":"TRUNCATE"');
    const out = path.join(dir, 'out.db');
    const r = await runWalship(['restore', '-integrity-check', 'full', '-o', out, `file://${replica}`]);
    expect(r.stderr).toBe('');
    expect(dump(out)).toBe(dump(db));
  });
});

describe("the application's own TRUNCATE checkpoints", () => {
  it("never wait out their busy timeout on walship's read pin, and every commit is shipped", async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    // The shape that stalled: autocheckpoint 50, a TRUNCATE every 100 commits, about 200 tx/s. With
    // the pin's two reads overlapping for a whole capture pass, 4 or 5 of 15 TRUNCATEs here gave up
    // after the full busy timeout with walship's pin a frame or two behind ((1, 116, 114)).
    const app = { db, n: 1500, every: 100, busyMs: 10_000, autocheckpoint: 50, delayMs: 5 };
    const { stdout } = await run('python3', [path.join(import.meta.dirname, '..', 'helpers', 'truncating-app.py'), JSON.stringify(app)], { timeout: 280_000 });
    const { truncates } = JSON.parse(stdout) as { truncates: Array<[number, number, number]> };
    expect(truncates).toHaveLength(15);
    // Busy 0 with an empty WAL: each one completed; none gave up waiting for a reader.
    expect(truncates).toEqual(Array.from({ length: 15 }, () => [0, 0, 0]));
    expect(await walship.stop()).toBe(0);
    const out = path.join(dir, 'out.db');
    const r = await runWalship(['restore', '-integrity-check', 'full', '-o', out, `file://${replica}`]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(1500);
    expect(dump(out)).toBe(dump(db));
  });
});

describe('walship ltx', () => {
  it('lists every file with level, TXID range, size and time; -level filters; -json parses', async () => {
    work = makeWorkdir();
    const { db, replica, config } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 6, payload: 'small', delayMs: 50 });
    expect(await walship.stop()).toBe(0);
    const all = await runWalship(['ltx', `file://${replica}`]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^LEVEL\s+MIN_TXID\s+MAX_TXID\s+SIZE\s+CREATED$/);
    expect(lines.some((l) => /^0\s+0000000000000001\s+0000000000000001\s+\d+\s+\d{4}-/.test(l))).toBe(true);
    expect(lines.some((l) => /^9\s+0000000000000001\s+/.test(l))).toBe(true);
    const byConfig = await runWalship(['ltx', '-config', config, '-level', '9', db]);
    expect(byConfig.stdout.trim().split('\n').slice(1).every((l) => l.startsWith('9 '))).toBe(true);
    const json = JSON.parse((await runWalship(['ltx', '-json', '-level', '0', `file://${replica}`])).stdout) as Array<{ level: number; size: number }>;
    expect(json.length).toBe(lines.filter((l) => l.startsWith('0 ')).length);
    expect(json.every((f) => f.level === 0 && f.size > 100)).toBe(true);
    const bad = await runWalship(['restore', '-integrity-check', 'sometimes', '-o', path.join(work.dir, 'x.db'), `file://${replica}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-integrity-check');
  });
});
