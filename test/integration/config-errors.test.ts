// Bad configs as a user meets them, through the real walship process: exit 2, one line on stderr
// naming the key, nothing written beside the database (no staging directory). And the long
// durations that must keep working: a one-shot run with them ships and restores exactly.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored } from '../helpers/oracle.js';
import { runWalship, runWriter } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

const replicas = (db: string, ...urls: string[]): string => `  - path: ${db}\n    replicas:\n${urls.map((u) => `      - url: ${u}\n`).join('')}`;

interface Case {
  name: string;
  yaml: (w: Workdir) => string;
  expected: RegExp;
  /** Prepares the database path (a directory, a text file). */
  prepare?: (w: Workdir) => void;
  command?: 'replicate' | 'validate';
}

const CASES: Case[] = [
  {
    name: 'two databases onto one replica',
    yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}${replicas(path.join(w.dir, 'other.db'), `file://${w.replica}/`)}`,
    expected: /dbs\[1\]\.replicas\[0\]: same replica location as dbs\[0\]\.replicas\[0\]: it would hold databases .*app\.db \(dbs\[0\]\.replicas\[0\]\) and .*other\.db/,
  },
  { name: "a replica in the database's directory", yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.dir}`)}`, expected: /dbs\[0\]\.replicas\[0\]: .* is the directory of database/ },
  { name: 'a replica in the staging directory', yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.dir}/.app.db-walship/r`)}`, expected: /dbs\[0\]\.replicas\[0\]: .* is inside .*\.app\.db-walship, the local staging directory/ },
  { name: 'sync-interval: 1000h', yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}        sync-interval: 1000h\n`, expected: /dbs\[0\]\.replicas\[0\]\.sync-interval: "1000h" is longer than the maximum 596h31m/ },
  { name: 'levels[].interval: 1000h', yaml: (w) => `levels:\n  - interval: 1000h\ndbs:\n${replicas(w.db, `file://${w.replica}`)}`, expected: /levels\[0\]\.interval: "1000h" is longer than the maximum/ },
  { name: 'shutdown-sync-timeout: 1000h', yaml: (w) => `shutdown-sync-timeout: 1000h\ndbs:\n${replicas(w.db, `file://${w.replica}`)}`, expected: /: shutdown-sync-timeout: "1000h" is longer than the maximum/ },
  { name: 'busy-timeout: 1000h', yaml: (w) => `dbs:\n  - path: ${w.db}\n    busy-timeout: 1000h\n    replicas:\n      - url: file://${w.replica}\n`, expected: /dbs\[0\]\.busy-timeout: "1000h" is longer than the maximum/ },
  { name: 'a bad host-key', yaml: (w) => `dbs:\n${replicas(w.db, 'sftp://u@127.0.0.1:1/r')}        host-key: garbage\n`, expected: /dbs\[0\]\.replicas\[0\]\.host-key: "garbage" is not a public key line/ },
  {
    name: 'a YAML alias bomb',
    yaml: (w) => {
      const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
      'abcdef'.split('').forEach((prev, i) => lines.push(`${'bcdefg'[i]}: &${'bcdefg'[i]} [${Array(9).fill(`*${prev}`).join(',')}]`));
      return `${lines.join('\n')}\ndbs:\n${replicas(w.db, `file://${w.replica}`)}`;
    },
    expected: /config .*walship\.yml: invalid YAML: aliases expand to too many nodes/,
  },
  { name: 'a NUL byte in the path', yaml: (w) => `dbs:\n  - path: "${w.dir}/a\\0b.db"\n    replicas:\n      - url: file://${w.replica}\n`, expected: /dbs\[0\]\.path: the path contains a NUL byte/ },
  { name: 'a 10 MB path', yaml: (w) => `dbs:\n${replicas(`${w.dir}/${'a'.repeat(10_000_000)}`, `file://${w.replica}`)}`, expected: /dbs\[0\]\.path: the path is \d+ bytes long; the limit is 4095/ },
  { name: 'a duplicate key', yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}        retention: 1h\n        retention: 2h\n`, expected: /line \d+: dbs\[0\]\.replicas\[0\]\.retention: duplicate key/ },
  { name: 'a 10 MB scalar', yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}        retention: ${'x'.repeat(10_000_000)}\n`, expected: /dbs\[0\]\.replicas\[0\]\.retention: "x{99}… \(10000002 characters\) is not a duration/ },
  { name: 'path: 123', yaml: (w) => `dbs:\n${replicas('123', `file://${w.replica}`)}`, expected: /dbs\[0\]\.path: expected a path \(a string\), got number 123/ },
  { name: 'a path that is a directory', prepare: (w) => mkdirSync(w.db), yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}`, expected: /dbs\[0\]\.path: database .*app\.db is a directory, not a SQLite database file/ },
  { name: 'a path that is not SQLite', prepare: (w) => writeFileSync(w.db, 'just some text, not a database\n'), yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}`, expected: /dbs\[0\]\.path: database .*app\.db is not a SQLite database/ },
  { name: 'validate on a path that is not SQLite', command: 'validate', prepare: (w) => writeFileSync(w.db, 'just some text, not a database\n'), yaml: (w) => `dbs:\n${replicas(w.db, `file://${w.replica}`)}`, expected: /dbs\[0\]\.path: database .*app\.db is not a SQLite database/ },
];

describe('a bad config', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s: exit 2, one short line naming the key, nothing written', async (_name, c) => {
    work = makeWorkdir();
    c.prepare?.(work);
    const before = readdirSync(work.dir).sort();
    writeFileSync(work.config, c.yaml(work));
    // -once: a config wrongly accepted ends the run (and fails the test) instead of replicating on.
    const args = c.command === 'validate' ? ['validate', '-config', work.config, work.db] : ['replicate', '-config', work.config, '-once'];
    const r = await runWalship(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(c.expected);
    expect(r.stderr.length).toBeLessThan(600);
    expect(r.stdout).toBe('');
    // Nothing beside the database but the config just written: no staging directory, no replica.
    expect(readdirSync(work.dir).sort()).toEqual([...before, 'walship.yml'].filter((v, i, a) => a.indexOf(v) === i).sort());
    expect(existsSync(path.join(work.dir, '.app.db-walship'))).toBe(false);
    expect(existsSync(path.resolve('.123-walship'))).toBe(false);
  });
});

describe('restore -replica', () => {
  it('naming no replica of a replica URL is exit 2, and nothing is restored', async () => {
    work = makeWorkdir();
    await runWriter('node', { db: work.db, from: 1, to: 5, payload: 'small' });
    expect((await runWalship(['replicate', '-config', work.config, '-once'])).code).toBe(0);
    const out = path.join(work.dir, 'out.db');
    const r = await runWalship(['restore', '-replica', 'nope', '-o', out, `file://${work.replica}`]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('walship restore: the replica URL has no replica named "nope" (have: file)');
    expect(existsSync(out)).toBe(false);
    // Its own name (the type) still works.
    expect((await runWalship(['restore', '-replica', 'file', '-o', out, `file://${work.replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(5);
  });
});

describe('long durations compared with timestamps', () => {
  it('are accepted, draw no timer overflow, and replication ships everything', async () => {
    work = makeWorkdir('l0-retention: 10000h\nready-lag: 10000h\nsnapshot:\n  interval: 10000h\n  retention: 10000h\n', '        retention: 10000h\n        snapshot-interval: 10000h\n');
    await runWriter('node', { db: work.db, from: 1, to: 20, payload: 'small' });
    const r = await runWalship(['replicate', '-config', work.config, '-once']);
    expect(r.stderr).not.toMatch(/TimeoutOverflowWarning/);
    expect(r.code).toBe(0);
    const out = path.join(work.dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${work.replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(20);
  });
});
