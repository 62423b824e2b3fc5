// The S3 replica client against a real S3 server (versitygw on loopback): Litestream's key layout
// and timestamp metadata, single and multipart uploads, exclusive level-0 writes, ranged streaming
// downloads, stale multipart uploads aborted, and errors a person can act on.
import { CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicaConflictError, type LtxFileInfo } from '../../src/replica/client.js';
import { S3ReplicaClient } from '../../src/replica/s3.js';
import { createS3ReplicaFixture, S3Server, VERSITYGW_VERSION, versitygwBin } from '../helpers/s3.js';

let server: S3Server | null = null;
let tmp: string | null = null;
const clients: S3ReplicaClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close(1_000);
  await server?.cleanup();
  server = null;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = null;
});

function local(name: string, data: Buffer): string {
  tmp ??= mkdtempSync(path.join(os.tmpdir(), 'walship-s3-local-'));
  const p = path.join(tmp, name);
  writeFileSync(p, data);
  return p;
}

function info(level: number, min: number, max: number, size: number, createdAt = new Date('2026-01-02T03:04:05.678Z')): LtxFileInfo {
  return { level, minTXID: min, maxTXID: max, size, createdAt };
}

async function client(prefix = 'app/cache.db', tweak: Partial<ReturnType<S3Server['settings']>> = {}): Promise<S3ReplicaClient> {
  server ??= await S3Server.start();
  const c = new S3ReplicaClient({ ...server.settings(), ...tweak }, prefix);
  clients.push(c);
  return c;
}

describe(`S3 replica client against versitygw ${VERSITYGW_VERSION}`, () => {
  it('the server binary is there', () => {
    versitygwBin();
  });

  it("writes Litestream's keys with the header timestamp in metadata, and lists it back", async () => {
    const c = await client();
    const data = randomBytes(1000);
    const f = info(0, 1, 1, data.length);
    await c.writeLtxFile(f, local('a.ltx', data), { exclusive: true });
    await c.writeLtxFile(info(9, 1, 1, 10), local('b.ltx', randomBytes(10)));
    expect(await server!.keys('app/')).toEqual(['app/cache.db/0000/0000000000000001-0000000000000001.ltx', 'app/cache.db/0009/0000000000000001-0000000000000001.ltx']);
    const s3 = server!.sdk();
    const head = await s3.send(new HeadObjectCommand({ Bucket: server!.bucket, Key: 'app/cache.db/0000/0000000000000001-0000000000000001.ltx' }));
    s3.destroy();
    expect(head.Metadata).toEqual({ 'litestream-timestamp': '2026-01-02T03:04:05.678Z' });
    // A fresh client (no cache) reads the timestamp from the metadata, not the upload time.
    const fresh = await client();
    expect(await fresh.listLtxFiles(0)).toEqual([f]);
    expect(await fresh.listLtxFiles(3)).toEqual([]);
    expect((await fresh.readLtxFile(f)).equals(data)).toBe(true);
  });

  it('an object without the metadata (another tool wrote it) lists with its upload time', async () => {
    const c = await client();
    const s3 = server!.sdk();
    await s3.send(new PutObjectCommand({ Bucket: server!.bucket, Key: 'app/cache.db/0000/0000000000000005-0000000000000006.ltx', Body: Buffer.alloc(7) }));
    await s3.send(new PutObjectCommand({ Bucket: server!.bucket, Key: 'app/cache.db/0000/not-an-ltx-file', Body: Buffer.alloc(1) }));
    s3.destroy();
    const files = await c.listLtxFiles(0);
    expect(files.map((f) => [f.minTXID, f.maxTXID, f.size])).toEqual([[5, 6, 7]]);
    expect(Math.abs(files[0]!.createdAt.getTime() - Date.now())).toBeLessThan(120_000);
  });

  it('exclusive writes: the same bytes again are fine, different bytes are a conflict and leave the object alone', async () => {
    const c = await client();
    const ours = randomBytes(500);
    const f = info(0, 2, 2, ours.length);
    await c.writeLtxFile(f, local('ours.ltx', ours), { exclusive: true });
    await c.writeLtxFile(f, local('ours-again.ltx', ours), { exclusive: true });
    const theirs = randomBytes(500);
    await expect(c.writeLtxFile(f, local('theirs.ltx', theirs), { exclusive: true })).rejects.toBeInstanceOf(ReplicaConflictError);
    expect((await c.readLtxFile(f)).equals(ours)).toBe(true);
    // Without exclusive the name is replaced.
    await c.writeLtxFile(f, local('theirs2.ltx', theirs));
    expect((await c.readLtxFile(f)).equals(theirs)).toBe(true);
  });

  it('large files go up in parts (exclusive too) and stream back in ranges, byte for byte', async () => {
    const c = await client();
    const big = randomBytes(12 * 1024 * 1024 + 12345);
    const f = info(9, 1, 40, big.length);
    await c.writeLtxFile(f, local('big.ltx', big), { exclusive: true });
    expect(server!.requests().filter((r) => r === 's3_UploadPart')).toHaveLength(3);
    expect(server!.requests()).toContain('s3_CompleteMultipartUpload');
    const before = server!.requests().length;
    const chunks: Buffer[] = [];
    for await (const chunk of c.streamLtxFile(f)) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    // 4 MiB ranges: four GETs for 12 MiB and a bit.
    expect(server!.requests().slice(before).filter((r) => r === 's3_GetObject')).toHaveLength(4);
    expect(chunks.every((ch) => ch.length <= 4 * 1024 * 1024)).toBe(true);
    // Exclusive multipart over an existing object: conditional complete refuses, bytes compared.
    await expect(c.writeLtxFile(f, local('big2.ltx', randomBytes(big.length)), { exclusive: true })).rejects.toBeInstanceOf(ReplicaConflictError);
    expect(await server!.multipartUploads('app/')).toEqual([]);
    expect((await c.readLtxFile(f)).equals(big)).toBe(true);
  });

  it('stopping a stream early leaves no request running', async () => {
    const c = await client();
    const big = randomBytes(20 * 1024 * 1024);
    const f = info(9, 1, 2, big.length);
    await c.writeLtxFile(f, local('big.ltx', big));
    for await (const chunk of c.streamLtxFile(f)) {
      expect(chunk.equals(big.subarray(0, chunk.length))).toBe(true);
      break;
    }
    await c.close(100);
  });

  it("aborts multipart uploads an earlier process left under its prefix (and no one else's) before its first upload", async () => {
    const c = await client();
    const s3 = server!.sdk();
    for (const key of ['app/cache.db/0009/0000000000000001-0000000000000009.ltx', 'other/db/0009/0000000000000001-0000000000000009.ltx']) {
      const u = await s3.send(new CreateMultipartUploadCommand({ Bucket: server!.bucket, Key: key }));
      await s3.send(new UploadPartCommand({ Bucket: server!.bucket, Key: key, UploadId: u.UploadId, PartNumber: 1, Body: Buffer.alloc(100) }));
    }
    s3.destroy();
    expect(await server!.multipartUploads('app/')).toHaveLength(1);
    await c.listLtxFiles(0); // reading does not sweep
    expect(await server!.multipartUploads('app/')).toHaveLength(1);
    await c.writeLtxFile(info(0, 1, 1, 3), local('x.ltx', Buffer.from('abc')));
    expect(await server!.multipartUploads('app/')).toEqual([]);
    expect(await server!.multipartUploads('other/')).toHaveLength(1);
    expect(await server!.keys('app/')).toEqual(['app/cache.db/0000/0000000000000001-0000000000000001.ltx']);
  });

  it('deletes in batches, and a missing file is no error', async () => {
    const c = await client();
    const files = [1, 2, 3].map((n) => info(0, n, n, 4));
    for (const f of files) await c.writeLtxFile(f, local(`${f.minTXID}.ltx`, Buffer.from('abcd')));
    await c.deleteLtxFiles([files[0]!, files[2]!, info(0, 7, 7, 4)]);
    expect((await c.listLtxFiles(0)).map((f) => f.minTXID)).toEqual([2]);
  });

  it('makes no request until asked, and none after', async () => {
    const c = await client();
    await c.writeLtxFile(info(0, 1, 1, 3), local('x.ltx', Buffer.from('abc')));
    const n = server!.requests().length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(server!.requests().length).toBe(n);
  });

  it('errors name the bucket and what to check: wrong secret, unknown key, missing bucket, wrong region, nothing listening', async () => {
    const s = await S3Server.start();
    server = s;
    const cases: Array<[string, Partial<ReturnType<S3Server['settings']>>, RegExp]> = [
      ['wrong secret', { credentials: { accessKeyId: s.accessKey, secretAccessKey: 'not-the-secret-xyz' } }, /secret key does not match.*bucket "walship".*check secret-access-key/],
      ['unknown key', { credentials: { accessKeyId: 'nobody', secretAccessKey: 'whatever-secret-1' } }, /does not know the access key.*bucket "walship".*check access-key-id/],
      ['missing bucket', { bucket: 'nosuchbucket' }, /bucket "nosuchbucket" does not exist at http:\/\/127\.0\.0\.1:\d+; check the bucket name and endpoint/],
      ['wrong region', { region: 'eu-west-3' }, /bucket "walship" is in another region than eu-west-3.*check region/],
      ['nothing listening', { endpoint: 'http://127.0.0.1:1' }, /cannot reach http:\/\/127\.0\.0\.1:1 for bucket "walship" \(ECONNREFUSED\); check endpoint/],
    ];
    for (const [label, tweak, re] of cases) {
      const c = await client('app/db', tweak);
      const err = await c.listLtxFiles(0).then(
        () => null,
        (e: Error) => e,
      );
      expect(err, label).not.toBeNull();
      expect(err!.message, label).toMatch(re);
      expect(err!.message.split('\n'), label).toHaveLength(1);
      expect(err!.message).not.toContain('not-the-secret-xyz');
      expect(err!.message).not.toContain(s.secretKey);
    }
  });

  it('the contract-suite factory gives a working client on an empty prefix', async () => {
    const fx = await createS3ReplicaFixture();
    try {
      expect(await fx.client.listLtxFiles(0)).toEqual([]);
      expect(fx.client.type).toBe('s3');
    } finally {
      await fx.cleanup();
    }
  });
});

describe('S3 replica client over TLS (versitygw with a self-signed certificate)', () => {
  async function tlsServer(): Promise<string> {
    tmp ??= mkdtempSync(path.join(os.tmpdir(), 'walship-s3-local-'));
    const cert = path.join(tmp, 'cert.pem');
    const key = path.join(tmp, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=walship-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    server = await S3Server.start({ tls: { certPath: cert, keyPath: key } });
    return cert;
  }

  it('an untrusted certificate is refused with what to do; AWS_CA_BUNDLE makes it trusted', async () => {
    const cert = await tlsServer();
    const untrusted = await client('app/db', { caBundlePath: null });
    await expect(untrusted.listLtxFiles(0)).rejects.toThrow(/TLS certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted \([A-Z_]+\); add its CA with AWS_CA_BUNDLE, or set skip-verify: true/);
    const trusted = await client('app/db', { caBundlePath: cert });
    await trusted.writeLtxFile(info(0, 1, 1, 3), local('x.ltx', Buffer.from('abc')));
    expect((await trusted.listLtxFiles(0)).map((f) => f.maxTXID)).toEqual([1]);
    const missing = await client('app/db', { caBundlePath: path.join(tmp!, 'no-such-ca.pem') });
    await expect(missing.listLtxFiles(0)).rejects.toThrow(/AWS_CA_BUNDLE .*no-such-ca\.pem: cannot read \(ENOENT\)/);
  });

  it('skip-verify connects without checking and warns on every new connection', async () => {
    await tlsServer();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const c = new S3ReplicaClient({ ...server!.settings(), skipVerify: true }, 'app/db', { logger });
    clients.push(c);
    await c.writeLtxFile(info(0, 1, 1, 3), local('x.ltx', Buffer.from('abc')));
    await c.listLtxFiles(0);
    const warned = lines.filter((l) => l.includes('"event":"s3_tls_unverified"'));
    expect(warned.length).toBeGreaterThan(0);
    // A new connection after close warns again.
    await c.close();
    await c.listLtxFiles(0);
    expect(lines.filter((l) => l.includes('"event":"s3_tls_unverified"')).length).toBeGreaterThan(warned.length);
    expect(lines.join('')).not.toContain(server!.secretKey);
  });
});
