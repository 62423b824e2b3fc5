// The SFTP replica against a real OpenSSH sshd: round trips, atomic visibility, overwrites, the
// rename fallback, concurrency over one connection and an unwritable directory.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { ReplicaError } from '../../src/replica/client.js';
import { describeFile } from '../../src/replica/layout.js';
import { Sftp } from '../../src/replica/sftp-io.js';
import { SftpReplicaClient } from '../../src/replica/sftp.js';
import { captureLogger, errorOf, ltxFixture, remoteNames, tempDir, waitUntil } from '../helpers/sftp-fixtures.js';
import { Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
let work: string;
const clients: SftpReplicaClient[] = [];

function client(root: string, opts: ConstructorParameters<typeof SftpReplicaClient>[2] = {}, settings = sshd.settings()): SftpReplicaClient {
  const c = new SftpReplicaClient(settings, root, opts);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sshd = await Sshd.start();
  work = await tempDir('sftp-replica');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await sshd?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe('sftp replica', () => {
  test('write, list, read and delete LTX files; mtime carries createdAt', async () => {
    const root = path.join(work, 'roundtrip', 'nested', 'replica');
    const c = client(root);
    expect(await c.listLtxFiles(0)).toEqual([]);
    const a = await ltxFixture(work, 0, 1, 1, 4096, new Date('2024-01-02T03:04:05Z'));
    const b = await ltxFixture(work, 0, 2, 5, 300_000, new Date('2024-01-02T03:04:06Z'));
    const snap = await ltxFixture(work, 9, 1, 5, 1_000_001, new Date('2024-01-02T03:05:00Z'));
    await c.writeLtxFile(b.info, b.localPath);
    await c.writeLtxFile(a.info, a.localPath);
    await c.writeLtxFile(snap.info, snap.localPath);

    expect(await c.listLtxFiles(0)).toEqual([a.info, b.info]);
    expect(await c.listLtxFiles(9)).toEqual([snap.info]);
    expect(await c.listLtxFiles(1)).toEqual([]);
    expect(await remoteNames(root, 0)).toEqual(['0000000000000001-0000000000000001.ltx', '0000000000000002-0000000000000005.ltx']);
    const st = await fsp.stat(path.join(root, 'ltx', '9', '0000000000000001-0000000000000005.ltx'));
    expect(st.mtime.toISOString()).toBe('2024-01-02T03:05:00.000Z');

    expect((await c.readLtxFile(b.info)).equals(b.data)).toBe(true);
    expect((await c.readLtxFile(snap.info)).equals(snap.data)).toBe(true);
    expect((await c.readLtxFile(a.info)).equals(a.data)).toBe(true);

    await c.deleteLtxFiles([a.info, b.info]);
    await c.deleteLtxFiles([a.info]); // already gone: not an error
    expect(await c.listLtxFiles(0)).toEqual([]);
    expect(await c.listLtxFiles(9)).toEqual([snap.info]);

    const err = await errorOf(c.readLtxFile(a.info));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toContain(c.location);
    expect(err.message).toContain(describeFile(a.info));
  });

  test('an empty file round trips', async () => {
    const root = path.join(work, 'empty');
    const c = client(root);
    const f = await ltxFixture(work, 0, 7, 7, 0);
    await c.writeLtxFile(f.info, f.localPath);
    expect(await c.listLtxFiles(0)).toEqual([f.info]);
    expect((await c.readLtxFile(f.info)).length).toBe(0);
  });

  test('uploads fsync, rename with posix-rename and pipeline their writes', async () => {
    const root = path.join(work, 'requests');
    const c = client(root);
    const f = await ltxFixture(work, 0, 1, 1, 1024 * 1024);
    let inFlight = 0;
    let maxInFlight = 0;
    const write = Sftp.prototype.write;
    const spies = [
      vi.spyOn(Sftp.prototype, 'write').mockImplementation(function (this: Sftp, ...args) {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        return write.apply(this, args).finally(() => inFlight--);
      }),
      vi.spyOn(Sftp.prototype, 'fsync'),
      vi.spyOn(Sftp.prototype, 'posixRename'),
      vi.spyOn(Sftp.prototype, 'rename'),
    ] as const;
    try {
      await c.writeLtxFile(f.info, f.localPath);
      const [, fsync, posixRename, rename] = spies;
      // OpenSSH offers both extensions, and both were used and acknowledged.
      expect(fsync).toHaveBeenCalledTimes(1);
      await expect(fsync.mock.results[0]!.value).resolves.toBe(true);
      expect(posixRename).toHaveBeenCalledTimes(1);
      await expect(posixRename.mock.results[0]!.value).resolves.toBe(true);
      expect(rename).not.toHaveBeenCalled();
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    expect(maxInFlight).toBeGreaterThan(1);
    expect((await c.readLtxFile(f.info)).equals(f.data)).toBe(true);
  });

  test('rewriting a file replaces it atomically; the fallback without posix-rename works too', async () => {
    const root = path.join(work, 'overwrite');
    for (const posixRename of [true, false]) {
      const c = client(root, { extensions: { posixRename } });
      const first = await ltxFixture(work, 0, 3, 4, 1000);
      const second = await ltxFixture(work, 0, 3, 4, 2000, new Date('2025-02-03T04:05:06Z'));
      await c.writeLtxFile(first.info, first.localPath);
      await c.writeLtxFile(second.info, second.localPath);
      expect(await c.listLtxFiles(0)).toEqual([second.info]);
      expect((await c.readLtxFile(second.info)).equals(second.data)).toBe(true);
      expect(await remoteNames(root, 0)).toEqual(['0000000000000003-0000000000000004.ltx']);
      await c.close();
    }
  });

  test('a concurrent lister never sees a temporary or partial file', async () => {
    const root = path.join(work, 'atomic');
    const writer = client(root);
    const lister = client(root);
    const size = 8 * 1024 * 1024;
    const files = await Promise.all([1, 2, 3].map((i) => ltxFixture(work, 0, i, i, size)));
    let done = false;
    let sawTmp = false;
    let listings = 0;
    const uploads = (async () => {
      try {
        for (const f of files) await writer.writeLtxFile(f.info, f.localPath);
      } finally {
        done = true;
      }
    })();
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < 100_000 && !done && Date.now() < deadline; i++) {
      const list = await lister.listLtxFiles(0);
      listings++;
      for (const f of list) expect(f.size).toBe(size);
      // On the server's disk, the temporary file does exist, under a name that is no LTX name.
      const names = await remoteNames(root, 0);
      if (names.some((n) => n.endsWith('.tmp'))) sawTmp = true;
      for (const n of names.filter((n) => n.endsWith('.ltx'))) {
        expect((await fsp.stat(path.join(root, 'ltx', '0', n))).size).toBe(size);
      }
    }
    await uploads;
    expect(listings).toBeGreaterThan(3);
    expect(sawTmp).toBe(true);
    expect((await lister.listLtxFiles(0)).map((f) => f.maxTXID)).toEqual([1, 2, 3]);
    expect((await remoteNames(root, 0)).filter((n) => !n.endsWith('.ltx'))).toEqual([]);
  });

  test('several uploads run concurrently over one connection', async () => {
    const root = path.join(work, 'concurrent');
    const c = client(root);
    const before = (sshd.logs.match(/Accepted publickey/g) ?? []).length;
    const files = await Promise.all(Array.from({ length: 8 }, (_, i) => ltxFixture(work, 1, i * 10 + 1, i * 10 + 10, 256 * 1024 + i)));
    await Promise.all(files.map((f) => c.writeLtxFile(f.info, f.localPath)));
    const listed = await c.listLtxFiles(1);
    expect(listed.map((f) => f.size)).toEqual(files.map((f) => f.info.size));
    const reads = await Promise.all(files.map((f) => c.readLtxFile(f.info)));
    reads.forEach((r, i) => expect(r.equals(files[i]!.data)).toBe(true));
    const after = (sshd.logs.match(/Accepted publickey/g) ?? []).length;
    expect(after - before).toBe(1);
  });

  test('an unwritable directory fails with an error naming the file, and leaves nothing behind', async () => {
    // Root ignores permission bits, so as root the test logs in as "nobody" instead.
    const asRoot = process.getuid?.() === 0;
    const base = await tempDir('unwritable');
    try {
      const root = path.join(base, 'replica');
      await fsp.mkdir(path.join(root, 'ltx', '0'), { recursive: true, mode: 0o755 });
      await fsp.chmod(path.join(root, 'ltx', '0'), asRoot ? 0o755 : 0o555);
      const { logger, text } = captureLogger();
      const c = client(root, { logger }, sshd.settings({ user: asRoot ? 'nobody' : os.userInfo().username }));
      const f = await ltxFixture(work, 0, 1, 2, 10_000);
      const err = await errorOf(c.writeLtxFile(f.info, f.localPath));
      expect(err).toBeInstanceOf(ReplicaError);
      expect(err.message).toContain(describeFile(f.info));
      expect(err.message).toContain(c.location);
      expect(err.message).toMatch(/permission denied/i);
      expect(await remoteNames(root, 0)).toEqual([]);
      // Creating a missing level directory fails just as clearly.
      await fsp.chmod(path.join(root, 'ltx'), asRoot ? 0o755 : 0o555);
      const g = await ltxFixture(work, 1, 1, 2, 10);
      const err2 = await errorOf(c.writeLtxFile(g.info, g.localPath));
      expect(err2.message).toContain(describeFile(g.info));
      expect(err2.message).toMatch(/mkdir .*ltx\/1: permission denied/i);
      expect(text()).not.toMatch(/password|passphrase/i);
    } finally {
      await fsp.chmod(path.join(base, 'replica', 'ltx'), 0o755).catch(() => undefined);
      await fsp.chmod(path.join(base, 'replica', 'ltx', '0'), 0o755).catch(() => undefined);
      await fsp.rm(base, { recursive: true, force: true });
    }
  });

  test('close leaves no temporary file and later use reconnects', async () => {
    const root = path.join(work, 'close');
    const c = client(root);
    const files = await Promise.all([1, 2, 3].map((i) => ltxFixture(work, 0, i, i, 2 * 1024 * 1024)));
    const writes = files.map((f) => c.writeLtxFile(f.info, f.localPath));
    await c.close(); // waits for the uploads in flight
    await Promise.all(writes);
    expect(await remoteNames(root, 0)).toEqual(files.map((f) => describeFile(f.info).split('/').pop()));
    expect((await c.listLtxFiles(0)).length).toBe(3);
  });
});
