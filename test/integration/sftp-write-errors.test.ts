// A write the SFTP server refuses says what it likely means and where: OpenSSH answers a full
// disk and a read-only filesystem alike with a bare "Failure". Real sshd, real small tmpfs mounts.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ReplicaError } from '../../src/replica/client.js';
import { describeFile } from '../../src/replica/layout.js';
import { SftpReplicaClient } from '../../src/replica/sftp.js';
import { mountTmpfs, type TmpfsMount } from '../helpers/mounts.js';
import { errorOf, ltxFixture, remoteNames, tempDir } from '../helpers/sftp-fixtures.js';
import { Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
let local: string;
const clients: SftpReplicaClient[] = [];
const mounts: TmpfsMount[] = [];

function client(root: string): SftpReplicaClient {
  const c = new SftpReplicaClient(sshd.settings(), root, { reconnectBaseMs: 50 });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sshd = await Sshd.start();
  local = await tempDir('sftp-write-errors');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const m of mounts.splice(0)) await m.cleanup();
});

afterAll(async () => {
  await sshd?.cleanup();
  if (local) await fsp.rm(local, { recursive: true, force: true });
});

describe('a refused SFTP write', () => {
  test('on a full disk says the disk is full, with the remote path, and leaves nothing behind', async () => {
    const mnt = await mountTmpfs(1024 * 1024);
    mounts.push(mnt);
    const root = path.join(mnt.dir, 'replica');
    const c = client(root);
    const small = await ltxFixture(local, 0, 1, 1, 10_000);
    await c.writeLtxFile(small.info, small.localPath);
    const big = await ltxFixture(local, 0, 2, 2, 3 * 1024 * 1024);
    const err = await errorOf(c.writeLtxFile(big.info, big.localPath));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toContain(c.location);
    expect(err.message).toContain(`write ${describeFile(big.info)}`);
    // The request that failed, on the remote temporary file, then what it means.
    expect(err.message).toMatch(new RegExp(`write ${root}/ltx/0/0+2-0+2\\.ltx\\.[0-9a-f]+\\.tmp: Failure \\(the replica's disk is full: \\d+(\\.\\d)? (B|KiB) available of 1\\.0 MiB \\(${root}/ltx/0\\)\\)`));
    // The partial temporary file was removed (which frees the space again).
    expect(await remoteNames(root, 0)).toEqual(['0000000000000001-0000000000000001.ltx']);
    expect((await c.listLtxFiles(0)).map((f) => f.maxTXID)).toEqual([1]);
  });

  test('on a read-only filesystem says so, with the remote path', async () => {
    const mnt = await mountTmpfs(8 * 1024 * 1024);
    mounts.push(mnt);
    const root = path.join(mnt.dir, 'replica');
    await fsp.mkdir(path.join(root, 'ltx', '0'), { recursive: true });
    mnt.readOnly();
    const c = client(root);
    const f = await ltxFixture(local, 0, 1, 1, 10_000);
    const err = await errorOf(c.writeLtxFile(f.info, f.localPath));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toContain(`write ${describeFile(f.info)}`);
    expect(err.message).toMatch(new RegExp(`open ${root}/ltx/0/0+1-0+1\\.ltx\\.[0-9a-f]+\\.tmp: Failure \\(the replica's filesystem is mounted read-only \\(${root}/ltx/0\\)\\)`));
    // Creating a missing level directory on it is explained the same way.
    const g = await ltxFixture(local, 1, 1, 1, 10);
    const err2 = await errorOf(c.writeLtxFile(g.info, g.localPath));
    expect(err2.message).toMatch(new RegExp(`mkdir ${root}/ltx/1: Failure \\(the replica's filesystem is mounted read-only`));
  });

  test('without permission names the directory the SFTP user may not write in', async () => {
    // Root ignores permission bits, so as root the client logs in as "nobody".
    const asRoot = process.getuid?.() === 0;
    const base = await tempDir('sftp-denied');
    const root = path.join(base, 'replica');
    const dir = path.join(root, 'ltx', '0');
    await fsp.mkdir(dir, { recursive: true });
    await fsp.chmod(dir, asRoot ? 0o755 : 0o555);
    try {
      const c = new SftpReplicaClient(sshd.settings(asRoot ? { user: 'nobody' } : {}), root);
      clients.push(c);
      const f = await ltxFixture(local, 0, 1, 1, 100);
      const err = await errorOf(c.writeLtxFile(f.info, f.localPath));
      expect(err.message).toMatch(new RegExp(`open ${dir}/0+1-0+1\\.ltx\\.[0-9a-f]+\\.tmp: Permission denied \\(the SFTP user may not write in ${dir}: check that directory's owner and mode`));
    } finally {
      await fsp.rm(base, { recursive: true, force: true });
    }
  });
});
