// Replicate-and-restore round trips with real writer processes (Node and Python), each with its
// own checkpoint habits. After a clean stop the restore must equal the source exactly.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, type WriterKind, type WriterOptions } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

type Variant = Omit<WriterOptions, 'db' | 'from'> & { name: string };

const VARIANTS: Variant[] = [
  { name: 'default autocheckpoint', to: 120, payload: 'small' },
  { name: 'autocheckpoint every page', to: 80, payload: 'small', autocheckpoint: 1 },
  { name: 'autocheckpoint 37 pages and TRUNCATE every 3 transactions', to: 90, payload: 'small', autocheckpoint: 37, truncateEvery: 3 },
  { name: 'one row to 10 MB, VACUUM, reopening connections', to: 40, payload: 'mixed', autocheckpoint: 100, vacuumAt: 20, reopenEvery: 7 },
];

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

describe.each<WriterKind>(['node', 'python'])('%s writer', (kind) => {
  it.each(VARIANTS)('$name: restore equals the source after a clean stop', async (variant) => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    // walship starts first: the database does not exist yet and must be waited for.
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('waiting_for_database');
    const { name: _name, ...opts } = variant;
    const commits = await runWriter(kind, { ...opts, db, from: 1 });
    expect(commits).toHaveLength(variant.to);
    expect(await walship.stop('SIGTERM')).toBe(0);
    expect(walship.logs()).toContain('"shipped":true');

    const out = path.join(dir, 'restored.db');
    const r = await runWalship(['restore', '-o', out, `file://${replica}`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(checkRestored(out, variant.payload).k).toBe(variant.to);
    expect(dump(out)).toBe(dump(db));
    expect(existsSync(`${out}.tmp`)).toBe(false);
  });
});

describe('restores taken while the application writes', () => {
  it('are always an exact, contiguous prefix', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    const writer = runWriter('python', { db, from: 1, to: 150, payload: 'small', autocheckpoint: 20, truncateEvery: 10, delayMs: 15 });
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const out = path.join(dir, `mid-${i}.db`);
      const r = await runWalship(['restore', '-o', out, `file://${replica}`]);
      if (r.code !== 0 && r.stderr.includes('no backup found')) continue; // nothing shipped yet
      expect(r.stderr).toBe('');
      seen.push(checkRestored(out, 'small').k);
    }
    await writer;
    expect(await walship.stop()).toBe(0);
    expect(seen.length).toBeGreaterThan(2);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen); // never goes backwards
    const out = path.join(dir, 'final.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(150);
  });
});
