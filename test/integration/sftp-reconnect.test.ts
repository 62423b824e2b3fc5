// Connection loss against a real sshd: kill -9 mid-upload, restart on the same port, and the next
// write goes through on a new connection with no temporary file left behind.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ReplicaError, type LtxFileInfo } from '../../src/replica/client.js';
import { SftpReplicaClient, type SftpReplicaOptions } from '../../src/replica/sftp.js';
import { captureLogger, errorOf, ltxFixture, remoteNames, tempDir, waitUntil, within } from '../helpers/sftp-fixtures.js';
import { Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
let work: string;
const clients: SftpReplicaClient[] = [];

function client(root: string, opts: SftpReplicaOptions = {}): SftpReplicaClient {
  const c = new SftpReplicaClient(sshd.settings(), root, { reconnectBaseMs: 50, reconnectMaxMs: 500, ...opts });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sshd = await Sshd.start();
  work = await tempDir('sftp-reconnect');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await sshd?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe('reconnect', () => {
  test('sshd killed mid-upload, then restarted: the next write succeeds and no temporary file remains', async () => {
    const root = path.join(work, 'killed');
    const { logger, lines } = captureLogger();
    // Few writes in flight, so the upload surely takes long enough to be caught in the middle.
    const c = client(root, { logger, transferConcurrency: 2, chunkSize: 16 * 1024 });
    const big = await ltxFixture(work, 9, 1, 100, 24 * 1024 * 1024);
    const err = await within(40_000, 'kill mid-upload', killMidUpload(c, root, big.info, big.localPath));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toContain('ltx/9/0000000000000001-0000000000000064.ltx');
    // The partial upload is on the server's disk, but under its temporary name only.
    const left = await remoteNames(root, 9);
    expect(left.length).toBe(1);
    expect(left[0]).toMatch(/\.tmp$/);
    expect(await waitUntil(() => lines.some((l) => l.includes('sftp_connection_lost')), 5_000)).toBe(true);

    // While sshd is down, operations fail (after a bounded backoff) instead of hanging.
    const down = await within(10_000, 'list while down', errorOf(c.listLtxFiles(9)));
    expect(down.message).toMatch(/cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);

    await within(20_000, 'restart sshd', sshd.restart());
    const small = await ltxFixture(work, 9, 1, 101, 10_000);
    await within(15_000, 'small write after restart', c.writeLtxFile(small.info, small.localPath));
    expect(await c.listLtxFiles(9)).toEqual([small.info]);
    // The temporary file of the interrupted upload was removed after reconnecting.
    expect(await remoteNames(root, 9)).toEqual(['0000000000000001-0000000000000065.ltx']);

    // And the big upload goes through on the new connection.
    await within(40_000, 'big write after restart', c.writeLtxFile(big.info, big.localPath));
    expect((await c.listLtxFiles(9)).map((f) => f.size)).toEqual([big.info.size, small.info.size]);
    expect((await remoteNames(root, 9)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect((await within(40_000, 'read back', c.readLtxFile(big.info))).equals(big.data)).toBe(true);
  });

  test('a clean close after an interrupted upload removes the temporary file', async () => {
    const root = path.join(work, 'close-after-kill');
    const c = client(root, { transferConcurrency: 2, chunkSize: 16 * 1024 });
    const big = await ltxFixture(work, 0, 1, 1, 24 * 1024 * 1024);
    await killMidUpload(c, root, big.info, big.localPath);
    expect((await remoteNames(root, 0)).filter((n) => n.endsWith('.tmp'))).toHaveLength(1);
    await sshd.restart();
    await c.close();
    expect(await remoteNames(root, 0)).toEqual([]);
  });

  test('an idle connection lost to a restart is reopened transparently on next use', async () => {
    const root = path.join(work, 'idle');
    const c = client(root);
    const a = await ltxFixture(work, 0, 1, 1, 1000);
    await c.writeLtxFile(a.info, a.localPath);
    await sshd.restart();
    const b = await ltxFixture(work, 0, 2, 2, 1000);
    // The first use finds the old connection dead, or the operation fails over to a new one.
    await c.writeLtxFile(b.info, b.localPath);
    expect((await c.listLtxFiles(0)).map((f) => f.maxTXID)).toEqual([1, 2]);
  });

  test('keepalives notice a server that stopped answering', async () => {
    const root = path.join(work, 'keepalive');
    const { logger, lines } = captureLogger();
    const c = client(root, { logger, keepaliveIntervalMs: 100, keepaliveCountMax: 2 });
    await c.listLtxFiles(0);
    // The TCP connection stays up, but nothing answers.
    const resume = sshd.pause();
    try {
      expect(await waitUntil(() => lines.some((l) => l.includes('sftp_connection_lost')), 10_000)).toBe(true);
    } finally {
      resume();
    }
    const f = await ltxFixture(work, 0, 5, 5, 100);
    await c.writeLtxFile(f.info, f.localPath);
    expect((await c.listLtxFiles(0)).map((x) => x.maxTXID)).toEqual([5]);
  });

  test('a connection whose SFTP requests go unanswered is dropped and the operation retried on a new one', async () => {
    const root = path.join(work, 'wedged');
    const { logger, lines } = captureLogger();
    const c = client(root, { logger, keepaliveIntervalMs: 100, requestTimeoutMs: 1_000 });
    await c.listLtxFiles(0);
    // SSH keepalives are still answered; only the SFTP server process is frozen.
    const resume = sshd.pauseSftpSubsystems();
    try {
      const f = await ltxFixture(work, 0, 7, 7, 100);
      const write = c.writeLtxFile(f.info, f.localPath).then(() => 'written');
      const outcome = await Promise.race([write, new Promise((r) => setTimeout(() => r('still waiting'), 15_000))]);
      expect(outcome).toBe('written');
      expect(lines.some((l) => l.includes('sftp_connection_lost') && l.includes('no answer to SFTP requests'))).toBe(true);
      // The stall is reported with the request that waited longest, for whoever reads the log.
      expect(lines.some((l) => l.includes('"event":"sftp_stalled"') && /"oldest":"(stat|open|mkdir) \//.test(l))).toBe(true);
      expect(lines.some((l) => l.includes('sftp_retry'))).toBe(true);
    } finally {
      resume();
    }
    expect((await c.listLtxFiles(0)).map((x) => x.maxTXID)).toEqual([7]);
  });

  test('close with a grace period cuts off an upload the server never answers, and the next use reconnects', async () => {
    const root = path.join(work, 'cut-off');
    const { logger, lines } = captureLogger();
    // The watchdog (60 s by default) would end it eventually; close must not wait for that.
    const c = client(root, { logger });
    await c.listLtxFiles(0);
    const resume = sshd.pauseSftpSubsystems();
    let write: Promise<string>;
    try {
      const f = await ltxFixture(work, 0, 9, 9, 100);
      write = c.writeLtxFile(f.info, f.localPath).then(
        () => 'written',
        (err: unknown) => (err instanceof ReplicaError ? `failed: ${err.message}` : `other: ${String(err)}`),
      );
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await within(10_000, 'close(500) with a silent server', c.close(500));
      expect(Date.now() - started).toBeLessThan(10_000);
      const outcome = await within(5_000, 'the cut-off write settling', write);
      expect(outcome).toMatch(/^failed: .*write ltx\/0\/0+9-0+9\.ltx/);
      expect(lines.some((l) => l.includes('sftp_close_cut'))).toBe(true);
    } finally {
      resume();
    }
    const g = await ltxFixture(work, 0, 9, 9, 100);
    await c.writeLtxFile(g.info, g.localPath);
    expect((await c.listLtxFiles(0)).map((x) => x.maxTXID)).toEqual([9]);
    expect((await remoteNames(root, 0)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('close gives up a connect to a server that accepts but never answers', async () => {
    const c = client(path.join(work, 'silent-connect'));
    const resume = sshd.pause();
    try {
      const list = c.listLtxFiles(0).then(
        () => 'listed',
        (err: unknown) => `failed: ${String(err)}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      await within(5_000, 'close(200) during a connect', c.close(200));
      expect(await within(5_000, 'the list settling', list)).toMatch(/^failed: .*closed while connecting/);
    } finally {
      resume();
    }
    expect(await c.listLtxFiles(0)).toEqual([]);
  });

  test('repeated connect failures back off instead of hammering the server', async () => {
    const c = client(path.join(work, 'backoff'), { reconnectBaseMs: 200, reconnectMaxMs: 400 });
    await sshd.stop();
    try {
      const started = Date.now();
      for (let i = 0; i < 4; i++) await errorOf(c.listLtxFiles(0));
      // Three waits of at least half the (growing, capped) delay: 100 + 200 + 200 ms.
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    } finally {
      await sshd.restart();
    }
    expect(await c.listLtxFiles(0)).toEqual([]);
  });
});

/** Starts an upload, kills sshd once a good part of it reached the server, and returns the upload's error. */
async function killMidUpload(c: SftpReplicaClient, root: string, info: LtxFileInfo, localPath: string): Promise<Error> {
  await c.listLtxFiles(info.level); // connected before the upload starts
  const upload = errorOf(c.writeLtxFile(info, localPath));
  const dir = path.join(root, 'ltx', String(info.level));
  const caught = await waitUntil(
    async () => {
      const tmp = (await remoteNames(root, info.level)).find((n) => n.endsWith('.tmp'));
      const st = tmp ? await fsp.stat(path.join(dir, tmp)).catch(() => null) : null;
      return !!st && st.size > 1024 * 1024;
    },
    30_000,
    5,
  );
  expect(caught).toBe(true);
  await sshd.stop();
  return upload;
}
