// The command line as a user meets it: malformed configs refused with exit 2 and nothing written,
// restore choosing the replica that reaches furthest, and the listing commands.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

describe('a malformed config', () => {
  const cases: Array<[string, (db: string) => string, RegExp]> = [
    ['bad duration', (db) => `dbs:\n  - path: ${db}\n    replicas:\n      - path: /tmp/x\n        sync-interval: fast\n`, /dbs\[0\]\.replicas\[0\]\.sync-interval: "fast" is not a duration/],
    ['bad scheme', (db) => `dbs:\n  - path: ${db}\n    replicas:\n      - url: gs://bucket/x\n`, /dbs\[0\]\.replicas\[0\]\.url: unsupported replica scheme/],
    ['sftp without user', (db) => `dbs:\n  - path: ${db}\n    replicas:\n      - url: sftp://host/x\n`, /dbs\[0\]\.replicas\[0\]\.user/],
    ['YAML syntax', (db) => `dbs:\n  - path: ${db}\n   replicas: [\n`, /line \d+: invalid YAML/],
    ['empty file', () => '', /file is empty/],
    ['bad addr', (db) => `addr: nowhere\ndbs:\n  - path: ${db}\n    replicas:\n      - path: /tmp/x\n`, /addr: "nowhere" is not host:port/],
  ];
  it.each(cases)('%s: exit 2, one line naming the key, nothing written', async (_name, text, expected) => {
    work = makeWorkdir();
    writeFileSync(work.config, text(work.db));
    const r = await runWalship(['replicate', '-config', work.config]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(expected);
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(work.dir, '.app.db-walship'))).toBe(false);
    expect(existsSync(work.db)).toBe(false);
  });
});

describe('restore with several replicas', () => {
  it('picks the replica whose chain reaches furthest, unless -replica names one', async () => {
    work = makeWorkdir();
    const { db, dir, config } = work;
    const ahead = path.join(dir, 'ahead');
    const behind = path.join(dir, 'behind');
    // First only "behind" is configured; then both, so "ahead" gets everything and "behind" stops early.
    writeFileSync(config, `dbs:\n  - path: ${db}\n    replicas:\n      - url: file://${behind}\n        name: behind\n        sync-interval: 0s\n`);
    let walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 10, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    writeFileSync(config, `dbs:\n  - path: ${db}\n    replicas:\n      - url: file://${ahead}\n        name: ahead\n        sync-interval: 0s\n`);
    walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 11, to: 20, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    writeFileSync(
      config,
      `dbs:\n  - path: ${db}\n    replicas:\n      - url: file://${behind}\n        name: behind\n      - url: file://${ahead}\n        name: ahead\n`,
    );
    const best = path.join(dir, 'best.db');
    const r = await runWalship(['restore', '-config', config, '-o', best, db]);
    expect(r.stdout).toContain('"replica":"ahead"');
    expect(checkRestored(best, 'small').k).toBe(20);
    const named = path.join(dir, 'named.db');
    expect((await runWalship(['restore', '-config', config, '-replica', 'behind', '-o', named, db])).code).toBe(0);
    expect(checkRestored(named, 'small').k).toBe(10);
    const unknown = await runWalship(['restore', '-config', config, '-replica', 'nope', '-o', path.join(dir, 'x.db'), db]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no replica named "nope" (have: behind, ahead)');

    const dbs = await runWalship(['databases', '-config', config]);
    expect(dbs.stdout).toMatch(new RegExp(`${db}\\s+behind\\s+file\\s+file://${behind}`));
    expect(dbs.stdout).toMatch(new RegExp(`${db}\\s+ahead\\s+file\\s+file://${ahead}`));
    const snaps = await runWalship(['snapshots', `file://${ahead}`]);
    expect(snaps.stdout.trim().split('\n').slice(1).every((l) => l.startsWith('9 '))).toBe(true);
    expect(snaps.stdout.trim().split('\n').length).toBeGreaterThan(1);
    const version = await runWalship(['version']);
    expect(version.stdout).toMatch(/^walship \d+\.\d+\.\d+\n$/);
  });
});
