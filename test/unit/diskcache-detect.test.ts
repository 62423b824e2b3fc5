// diskcache value files beside cache.db, made by the real Python library (the Debian package that
// scripts/setup-debian.sh installs): found with their exact count and size, and the scan is bounded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { detectDiskcacheValues, warnDiskcacheValues } from '../../src/replication/diskcache.js';

// The system Python: a pyenv or venv python3 earlier on PATH does not see Debian's packages.
const PYTHON = '/usr/bin/python3';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'walship-diskcache-'));
  dirs.push(d);
  return d;
}

/** Fills a diskcache in `dir` and returns what Python itself says about its value files. */
function makeCache(dir: string, values: Record<string, number>): { count: number; bytes: number } {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup-debian.sh (it installs python3-diskcache)`);
  const script = `
import json, os, sys, diskcache
c = diskcache.Cache(sys.argv[1])
for k, n in json.loads(sys.argv[2]).items():
    c.set(k, os.urandom(n))
c.close()
count = total = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith('.val'):
            count += 1
            total += os.path.getsize(os.path.join(root, f))
print(json.dumps({'count': count, 'bytes': total}))
`;
  const out = execFileSync(PYTHON, ['-c', script, dir, JSON.stringify(values)], { encoding: 'utf8' });
  return JSON.parse(out) as { count: number; bytes: number };
}

describe('detectDiskcacheValues', () => {
  it('finds the value files of large entries, with their exact count and size', async () => {
    const dir = tmp();
    const truth = makeCache(dir, { big1: 100_000, big2: 40_000, big3: 1_000_000, small: 100 });
    expect(truth.count).toBe(3);
    const found = await detectDiskcacheValues(path.join(dir, 'cache.db'));
    expect(found).toEqual({ dir, count: 3, bytes: truth.bytes, complete: true });
  });

  it('is null for a cache whose values all live in cache.db', async () => {
    const dir = tmp();
    expect(makeCache(dir, { a: 10, b: 1000 }).count).toBe(0);
    expect(await detectDiskcacheValues(path.join(dir, 'cache.db'))).toBeNull();
  });

  it('is null beside an ordinary database, even with hex-named directories about', async () => {
    const dir = tmp();
    mkdirSync(path.join(dir, 'ab', 'cd'), { recursive: true });
    writeFileSync(path.join(dir, 'ab', 'cd', 'notes.txt'), 'x');
    writeFileSync(path.join(dir, 'ab', 'stray.val'), 'x');
    expect(await detectDiskcacheValues(path.join(dir, 'app.db'))).toBeNull();
    expect(await detectDiskcacheValues(path.join(dir, 'missing-dir', 'app.db'))).toBeNull();
  });

  it('stops after the entry budget and says the numbers are lower bounds', async () => {
    const dir = tmp();
    const values: Record<string, number> = {};
    for (let i = 0; i < 30; i++) values[`k${i}`] = 40_000;
    expect(makeCache(dir, values).count).toBe(30);
    // About 33 entries at the top (up to 30 hex directories, cache.db and its WAL files), then two per value.
    const found = await detectDiskcacheValues(path.join(dir, 'cache.db'), 45);
    expect(found).not.toBeNull();
    expect(found!.complete).toBe(false);
    expect(found!.count).toBeGreaterThan(0);
    expect(found!.count).toBeLessThan(30);
  });
});

describe('warnDiskcacheValues', () => {
  it('logs one warning naming the count and size, and nothing when there is nothing', async () => {
    const dir = tmp();
    const truth = makeCache(dir, { big: 50_000 });
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(...chunk.toString().trim().split('\n')), cb()) });
    const log = pino({ level: 'info' }, sink);
    await warnDiskcacheValues(path.join(dir, 'cache.db'), log);
    await warnDiskcacheValues(path.join(tmp(), 'app.db'), log);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, event: 'diskcache_values_not_replicated', files: 1, bytes: truth.bytes, complete: true, dir });
    expect(line.msg).toBe(
      `1 diskcache value files (${truth.bytes} bytes) in ${dir} are not replicated: only the database is, so these entries are misses after a restore; raise disk_min_file_size or replicate the directory by other means`,
    );
  });
});
