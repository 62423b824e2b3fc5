// Litestream (the real v0.5 binary) and walship on one S3 bucket (versitygw on loopback): Litestream
// restores walship's bucket exactly, and walship restores Litestream's and continues it, with both
// tools reading the same Litestream config file.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LITESTREAM_VERSION, litestreamBin } from '../helpers/litestream.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, track } from '../helpers/processes.js';
import { S3Server } from '../helpers/s3.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let server: S3Server | null = null;
afterEach(async () => {
  await server?.cleanup();
  server = null;
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Litestream with the server's keys and without this machine's AWS_CA_BUNDLE (Litestream fails
 * with "unable to add custom RootCAs" while it points at a bundle, even for a plain-http endpoint).
 */
function litestream(s: S3Server, args: string[]): { done: Promise<{ code: number | null; output: string }>; stop: () => Promise<number | null> } {
  const child = track(spawn(litestreamBin(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...s.env() } }));
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = exited.then(([code]) => {
    clearTimeout(timer);
    return { code, output };
  });
  return {
    done,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return (await done).code;
    },
  };
}

/** A Litestream v0.5 config with one S3 replica, in the form Litestream's docs give for S3-compatible servers. */
function litestreamConfig(w: Workdir, s: S3Server, prefix: string): string {
  const file = path.join(w.dir, 'litestream.yml');
  writeFileSync(
    file,
    `dbs:
  - path: ${w.db}
    replica:
      type: s3
      bucket: ${s.bucket}
      path: ${prefix}
      endpoint: ${s.endpoint}
      region: us-east-1
      force-path-style: true
      sync-interval: 100ms
`,
  );
  return file;
}

/** The bucket's keys under `prefix` stop changing for `quietMs` (bounded). */
async function bucketSettled(s: S3Server, prefix: string, quietMs = 2_000, maxMs = 60_000): Promise<void> {
  const started = Date.now();
  let last = (await s.keys(prefix)).join(',');
  let since = Date.now();
  while (Date.now() - started < maxMs) {
    await sleep(250);
    const now = (await s.keys(prefix)).join(',');
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (now !== '' && Date.now() - since >= quietMs) {
      return;
    }
  }
  throw new Error(`bucket prefix ${prefix} did not settle within ${maxMs} ms`);
}

async function restoreWithLitestream(s: S3Server, config: string, db: string, out: string): Promise<void> {
  const r = await litestream(s, ['restore', '-config', config, '-o', out, db]).done;
  expect(r.code, `litestream restore output:\n${r.output}`).toBe(0);
}

async function restoreWithWalship(s: S3Server, config: string, db: string, out: string): Promise<void> {
  const r = await runWalship(['restore', '-config', config, '-o', out, db], s.env());
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

describe(`Litestream ${LITESTREAM_VERSION} and walship on one S3 bucket`, () => {
  it("Litestream restores walship's bucket exactly (snapshot, compacted levels, level 0)", async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    const config = litestreamConfig(work, server, 'by-walship/cache.db');
    // The same file is walship's config, plus short compaction intervals so every level is written.
    writeFileSync(config, `levels:\n  - interval: 1s\n${readFileSync(config, 'utf8')}`);
    const walship = startWalship(['replicate', '-config', config], server.env());
    await walship.waitForEvent('started');
    await runWriter('python', { db: work.db, from: 1, to: 40, payload: 'mixed', autocheckpoint: 100, vacuumAt: 20, truncateEvery: 9 });
    await sleep(1_500);
    await runWriter('node', { db: work.db, from: 41, to: 60, payload: 'mixed' });
    expect(await walship.stop()).toBe(0);
    const keys = await server.keys('by-walship/cache.db/');
    for (const level of ['0000', '0001', '0009']) expect(keys.some((k) => k.startsWith(`by-walship/cache.db/${level}/`)), level).toBe(true);
    const out = path.join(work.dir, 'by-litestream.db');
    await restoreWithLitestream(server, config, work.db, out);
    expect(checkRestored(out, 'mixed').k).toBe(60);
    expect(dump(out)).toBe(dump(work.db));
  });

  it("walship restores Litestream's bucket exactly, continues it, and each tool restores the result", async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    const w = work;
    const s = server;
    const prefix = 'by-litestream/cache.db';
    const config = litestreamConfig(w, s, prefix);
    const ls = litestream(s, ['replicate', '-config', config]);
    try {
      await sleep(500);
      await runWriter('python', { db: w.db, from: 1, to: 30, payload: 'mixed', autocheckpoint: 100 });
      await bucketSettled(s, `${prefix}/`);
    } finally {
      const code = await ls.stop();
      expect(code, (await ls.done).output).toBe(0);
    }
    expect((await s.keys(`${prefix}/0000/`)).length).toBeGreaterThan(0);
    const first = path.join(w.dir, 'first.db');
    await restoreWithWalship(s, config, w.db, first);
    expect(checkRestored(first, 'mixed').k).toBe(30);
    expect(dump(first)).toBe(dump(w.db));

    // walship takes the same bucket over with the same config and goes on.
    const walship = startWalship(['replicate', '-config', config], s.env());
    await walship.waitForEvent('started');
    await runWriter('node', { db: w.db, from: 31, to: 50, payload: 'mixed' });
    expect(await walship.stop(), walship.logs()).toBe(0);
    const byWalship = path.join(w.dir, 'second-walship.db');
    await restoreWithWalship(s, config, w.db, byWalship);
    expect(checkRestored(byWalship, 'mixed').k).toBe(50);
    expect(dump(byWalship)).toBe(dump(w.db));
    const byLitestream = path.join(w.dir, 'second-litestream.db');
    await restoreWithLitestream(s, config, w.db, byLitestream);
    expect(checkRestored(byLitestream, 'mixed').k).toBe(50);
    expect(dump(byLitestream)).toBe(dump(w.db));
  });
});
