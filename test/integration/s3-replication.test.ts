// walship replicate and restore against a real S3 server (versitygw on loopback), as processes: the
// oracle round trip (autocheckpoint, TRUNCATE, VACUUM, a 10 MB transaction), point-in-time restore,
// kill -9 mid multipart upload, the server killed and restarted mid-stream, S3 beside SFTP on one
// database, zero requests while idle, and no secret in any output.
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LtxFile } from '../../src/ltx/decoder.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, startWriter, type Commit } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { S3Server } from '../helpers/s3.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let server: S3Server | null = null;
let sshd: Sshd | null = null;
afterEach(async () => {
  await server?.cleanup();
  server = null;
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const PREFIX = 'site/cache.db';

/**
 * walship's environment: the server's keys, and a CA bundle that does not exist. walship must
 * ignore AWS_CA_BUNDLE for a plain-http endpoint (this machine sets one for its proxy).
 */
function walshipEnv(s: S3Server): Record<string, string | undefined> {
  return { ...s.env(), AWS_CA_BUNDLE: '/nonexistent/walship-test-ca-bundle.pem' };
}

function writeConfig(w: Workdir, s: S3Server, opts: { extraTop?: string; extraReplica?: string; more?: string } = {}): void {
  writeFileSync(
    w.config,
    `${opts.extraTop ?? ''}dbs:
  - path: ${w.db}
    replicas:
      - url: s3://${s.bucket}/${PREFIX}
        name: bucket
        endpoint: ${s.endpoint}
        sync-interval: 0s
${opts.extraReplica ?? ''}${opts.more ?? ''}`,
  );
}

/** Every object under the prefix decodes whole and verifies: no partial object is ever visible. */
async function assertOnlyWholeObjects(s: S3Server): Promise<number> {
  const sdk = s.sdk();
  let n = 0;
  try {
    for (const key of await s.keys(`${PREFIX}/`)) {
      let buf: Buffer;
      try {
        const out = await sdk.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
        buf = Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if ((err as Error).name === 'NoSuchKey') continue; // removed by retention meanwhile
        throw err;
      }
      await LtxFile.open(buf).verify();
      n++;
    }
  } finally {
    sdk.destroy();
  }
  return n;
}

async function restoreExact(w: Workdir, env: Record<string, string | undefined>, k: number, payload: 'small' | 'mixed', args: string[] = ['-config', w.config, w.db]): Promise<void> {
  const out = path.join(w.dir, `restored-${Date.now()}.db`);
  const r = await runWalship(['restore', '-o', out, ...args], env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(checkRestored(out, payload).k).toBe(k);
  expect(dump(out)).toBe(dump(w.db));
}

/** Random (incompressible) rows in the writer's filler table, in one transaction, by a separate process. */
function addRandomFiller(db: string, megabytes: number): void {
  execFileSync('python3', [
    '-c',
    `import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, junk BLOB)")
with db:
    for _ in range(int(sys.argv[2]) * 256):
        db.execute("INSERT INTO filler (junk) VALUES (?)", (os.urandom(4000),))
db.close()`,
    db,
    String(megabytes),
  ]);
}

/** A hash of every filler row, to compare random content without dumping it. */
function fillerHash(db: string): string {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const h = createHash('sha256');
    for (const r of d.prepare('SELECT id, junk FROM filler ORDER BY id').iterate() as Iterable<{ id: number; junk: Buffer }>) h.update(`${r.id}:`).update(r.junk);
    return h.digest('hex');
  } finally {
    d.close();
  }
}

describe('replication to S3 (versitygw)', () => {
  it('round trip: autocheckpoint, TRUNCATE, VACUUM and a 10 MB transaction restore exactly, by config and by URL', async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    writeConfig(work, server);
    const env = walshipEnv(server);
    const walship = startWalship(['replicate', '-config', work.config], env);
    await runWriter('python', { db: work.db, from: 1, to: 40, payload: 'mixed', autocheckpoint: 100, truncateEvery: 7, vacuumAt: 20 });
    await runWriter('node', { db: work.db, from: 41, to: 60, payload: 'mixed' });
    expect(await walship.stop(), walship.logs()).toBe(0);
    expect(walship.logs()).not.toContain(server.secretKey);
    expect(await assertOnlyWholeObjects(server)).toBeGreaterThan(0);
    const keys = await server.keys(`${PREFIX}/`);
    expect(keys.some((k) => k.startsWith(`${PREFIX}/0000/`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`${PREFIX}/0009/`))).toBe(true);
    await restoreExact(work, env, 60, 'mixed');
    await restoreExact(work, env, 60, 'mixed', [`s3://${server.bucket}/${PREFIX}?endpoint=${server.endpoint}`]);
  });

  it('point-in-time restore by -timestamp gives exactly the transactions committed by then, from the timestamp metadata', async () => {
    server = await S3Server.start();
    // Down while the application writes: every object is uploaded after every target time, so a
    // restore that went by upload time (LastModified) instead of the header timestamp would fail.
    await server.kill();
    work = makeWorkdir();
    writeConfig(work, server);
    const env = walshipEnv(server);
    const walship = startWalship(['replicate', '-config', work.config], env);
    await walship.waitForEvent('started');
    const commits: Commit[] = await runWriter('python', { db: work.db, from: 1, to: 30, payload: 'small', pauseAfter: [10, 20], pauseMs: 1500 });
    await sleep(1500); // LastModified has whole seconds: the uploads must come a second after the last commit
    await server.restart();
    expect(await walship.stop(), walship.logs()).toBe(0);
    const sdk = server.sdk();
    const listed = await sdk.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: `${PREFIX}/0000/` }));
    sdk.destroy();
    expect(listed.Contents?.length).toBeGreaterThan(0);
    for (const o of listed.Contents ?? []) expect(o.LastModified!.getTime()).toBeGreaterThan(commits[29]!.t);
    for (const k of [10, 20]) {
      const at = new Date(commits[k - 1]!.t + 700).toISOString();
      const out = path.join(work.dir, `pit-${k}.db`);
      const r = await runWalship(['restore', '-config', work.config, '-timestamp', at, '-o', out, work.db], env);
      expect(r.stderr).toBe('');
      expect(checkRestored(out, 'small').k).toBe(k);
    }
    await restoreExact(work, env, 30, 'small');
  });

  it('kill -9 mid multipart upload, restart: nothing lost, no partial object, no multipart upload left', async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    // One part at a time, so the kill lands between parts.
    writeConfig(work, server, { extraReplica: '        concurrency: 1\n' });
    const env = walshipEnv(server);
    await runWriter('node', { db: work.db, from: 1, to: 5, payload: 'small' });
    addRandomFiller(work.db, 60);
    const first = startWalship(['replicate', '-config', work.config], env);
    for (let i = 0; i < 600 && !server.requests().includes('s3_UploadPart'); i++) await sleep(20);
    first.child.kill('SIGKILL');
    await first.stop('SIGKILL');
    expect(server.requests(), 'the kill did not land during a multipart upload').toContain('s3_UploadPart');
    expect(server.requests()).not.toContain('s3_CompleteMultipartUpload');
    expect((await server.multipartUploads(`${PREFIX}/`)).length).toBeGreaterThan(0);
    await assertOnlyWholeObjects(server);

    const second = startWalship(['replicate', '-config', work.config], env);
    await second.waitForEvent('s3_stale_uploads_aborted', 60_000);
    await runWriter('python', { db: work.db, from: 6, to: 30, payload: 'small', autocheckpoint: 100 });
    expect(await second.stop(), second.logs()).toBe(0);
    expect(await server.multipartUploads(`${PREFIX}/`)).toEqual([]);
    expect(server.requests()).toContain('s3_CompleteMultipartUpload');
    await assertOnlyWholeObjects(server);
    const out = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db], env);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(30);
    expect(fillerHash(out)).toBe(fillerHash(work.db));
  });

  it('the S3 server killed and restarted mid-stream twice: the backlog drains and the restore is exact', async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    writeConfig(work, server, { extraTop: 'shutdown-sync-timeout: 10s\n' });
    const env = walshipEnv(server);
    const walship = startWalship(['replicate', '-config', work.config], env);
    const writer = startWriter('node', { db: work.db, from: 1, to: 250, payload: 'small', autocheckpoint: 200, delayMs: 20 });
    for (let i = 0; i < 300 && server.requests().filter((r) => r === 's3_PutObject').length < 3; i++) await sleep(50);
    let checks = 0;
    for (let round = 0; round < 2; round++) {
      await sleep(800);
      await server.kill();
      await sleep(1_500);
      await server.restart();
      checks += await assertOnlyWholeObjects(server);
    }
    await writer.done();
    // shutdown-sync-timeout (10 s), then the client's close and the process exit.
    expect(await walship.stop('SIGTERM', 15_000), walship.logs().split('\n').slice(-40).join('\n')).toBe(0);
    expect(checks).toBeGreaterThan(0);
    expect(walship.logs()).toContain('"event":"ship_failed"');
    await assertOnlyWholeObjects(server);
    await restoreExact(work, env, 250, 'small');
  });

  it('an S3 replica and an SFTP replica of one database each restore exactly', async () => {
    server = await S3Server.start();
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeConfig(work, server, {
      more: `      - url: sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}\n        name: box\n        key-path: ${sshd.clientKey.privateKeyPath}\n        host-key: "${sshd.hostKeyLine}"\n        sync-interval: 0s\n`,
    });
    const env = walshipEnv(server);
    const walship = startWalship(['replicate', '-config', work.config], env);
    await runWriter('python', { db: work.db, from: 1, to: 40, payload: 'mixed', autocheckpoint: 100 });
    expect(await walship.stop()).toBe(0);
    await restoreExact(work, env, 40, 'mixed', ['-config', work.config, '-replica', 'bucket', work.db]);
    await restoreExact(work, env, 40, 'mixed', ['-config', work.config, '-replica', 'box', work.db]);
  });

  it('idle: zero requests at the server over a quiet minute after settling', async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    // Short compaction intervals, so everything the writes cause is done before the quiet minute.
    writeConfig(work, server, { extraTop: 'levels:\n  - interval: 1s\n  - interval: 2s\n  - interval: 3s\n' });
    const walship = startWalship(['replicate', '-config', work.config], walshipEnv(server));
    try {
      await runWriter('node', { db: work.db, from: 1, to: 50, payload: 'small' });
      // Settled: no new request for 8 s (bounded at 90 s).
      let last = server.requests().length;
      let since = Date.now();
      for (const started = Date.now(); Date.now() - since < 8_000; ) {
        if (Date.now() - started > 90_000) throw new Error(`requests did not settle: ${server.requests().slice(-20).join(' ')}`);
        await sleep(250);
        const n = server.requests().length;
        if (n !== last) {
          last = n;
          since = Date.now();
        }
      }
      const before = server.requests();
      await sleep(60_000);
      expect(server.requests().slice(before.length)).toEqual([]);
      // The writes themselves caused no listing per upload: LISTs only at start and after uploads for retention.
      expect(before.filter((r) => r === 's3_ListObjectsV2').length).toBeLessThanOrEqual(15);
    } finally {
      expect(await walship.stop()).toBe(0);
    }
  });

  it('credentials never reach logs, /status or `walship databases`, and a wrong secret says what to check', async () => {
    server = await S3Server.start();
    work = makeWorkdir();
    const wrong = 'wrong-secret-do-not-print-7h3';
    const addr = `127.0.0.1:${await freePort()}`;
    writeConfig(work, server, {
      extraTop: `addr: ${addr}\nshutdown-sync-timeout: 2s\n`,
      extraReplica: `        access-key-id: ${server.accessKey}\n        secret-access-key: ${wrong}\n`,
    });
    const env = { AWS_CA_BUNDLE: undefined };
    const db = await runWalship(['databases', '-config', work.config], env);
    expect(db.code).toBe(0);
    expect(db.stdout).toContain(`s3://${server.bucket}/${PREFIX}`);
    expect(db.stdout + db.stderr).not.toContain(wrong);
    const walship = startWalship(['replicate', '-config', work.config], env);
    try {
      await runWriter('node', { db: work.db, from: 1, to: 3, payload: 'small' });
      const failed = await walship.waitForEvent('ship_failed', 60_000);
      expect(String(failed.err)).toMatch(/secret key does not match.*bucket "walship".*check secret-access-key/);
      const status = await (await fetch(`http://${addr}/status`)).text();
      expect(status).toContain('secret key does not match');
      expect(status).not.toContain(wrong);
      const st = await runWalship(['status', '-config', work.config], env);
      expect(st.stdout + st.stderr).not.toContain(wrong);
    } finally {
      await walship.stop();
    }
    expect(walship.logs()).not.toContain(wrong);
  });
});
