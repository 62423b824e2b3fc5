// Large replica files are decoded as they stream in, so a restore's memory does not grow with the
// database. Streamed and whole-file restores must build the very same database, a dropped SFTP
// connection must resume where the stream stopped, and damage found mid-stream must leave nothing.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LtxFileInfo, ReplicaClient } from '../../src/replica/client.js';
import { listReplica } from '../../src/replica/listing.js';
import { FileReplicaClient } from '../../src/replica/file.js';
import { SftpReplicaClient } from '../../src/replica/sftp.js';
import { applyPlan, RestoreError } from '../../src/restore/apply.js';
import { planRestore } from '../../src/restore/plan.js';
import { ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWriter, startWalship } from '../helpers/processes.js';
import { captureLogger, ltxFixture, tempDir } from '../helpers/sftp-fixtures.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let sshd: Sshd | null = null;
afterEach(async () => {
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

/** A real client that counts how each file was fetched. */
function counting(client: ReplicaClient): { client: ReplicaClient; whole: number; streamed: number } {
  const counts = { whole: 0, streamed: 0 };
  const wrapped: ReplicaClient = {
    type: client.type,
    location: client.location,
    listLtxFiles: (level) => client.listLtxFiles(level),
    writeLtxFile: (info, p, o) => client.writeLtxFile(info, p, o),
    readLtxFile: (info) => {
      counts.whole++;
      return client.readLtxFile(info);
    },
    streamLtxFile: (info) => {
      counts.streamed++;
      return client.streamLtxFile(info);
    },
    deleteLtxFiles: (infos) => client.deleteLtxFiles(infos),
    readFence: () => client.readFence(),
    writeFence: (text, expected) => client.writeFence(text, expected),
    sweepTemporaryFiles: (olderThanMs) => client.sweepTemporaryFiles(olderThanMs),
    close: (graceMs) => client.close(graceMs),
    retryNow: () => client.retryNow(),
  };
  return Object.assign(counts, { client: wrapped });
}

async function planOf(client: ReplicaClient): Promise<LtxFileInfo[]> {
  return planRestore(await listReplica(client));
}

describe('streamed restore', () => {
  it('builds the same database as whole-file downloads (file replica)', async () => {
    work = makeWorkdir();
    const walship = startWalship(['replicate', '-config', work.config]);
    // A snapshot first, then the rest: the plan holds the snapshot and files after it.
    await runWriter('python', { db: work.db, from: 1, to: 5, payload: 'mixed', autocheckpoint: 100 });
    await walship.waitForEvent('snapshot');
    await runWriter('python', { db: work.db, from: 6, to: 40, payload: 'mixed', autocheckpoint: 100, vacuumAt: 20 });
    expect(await walship.stop()).toBe(0);

    const replica = new FileReplicaClient(work.replica);
    const plan = await planOf(replica);
    expect(plan.length).toBeGreaterThan(1);
    const streamed = counting(replica);
    const outStreamed = path.join(work.dir, 'streamed.db');
    await applyPlan(streamed.client, plan, outStreamed, 'full', { wholeFileMax: 0 });
    expect(streamed.streamed).toBe(plan.length);
    expect(streamed.whole).toBe(0);

    const whole = counting(replica);
    const outWhole = path.join(work.dir, 'whole.db');
    await applyPlan(whole.client, plan, outWhole, 'full');
    expect(whole.whole).toBe(plan.length);

    // A background data sync after every run of pages written (the default waits for 64 MiB).
    const outSynced = path.join(work.dir, 'synced.db');
    const probe = await open(work.db, 'r');
    const fileHandleProto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const datasync = vi.spyOn(fileHandleProto, 'datasync');
    try {
      await applyPlan(replica, plan, outSynced, 'full', { wholeFileMax: 0, backgroundSyncBytes: 1 });
      expect(datasync).toHaveBeenCalled();
    } finally {
      datasync.mockRestore();
    }

    expect(checkRestored(outStreamed, 'mixed').k).toBe(40);
    expect(dump(outStreamed)).toBe(dump(work.db));
    expect(dump(outWhole)).toBe(dump(work.db));
    expect(dump(outSynced)).toBe(dump(work.db));
  });

  it('refuses damage found mid-stream and leaves no file behind', async () => {
    work = makeWorkdir();
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 30, payload: 'mixed' });
    expect(await walship.stop()).toBe(0);
    const snapshot = ltxFiles(work.replica, 9)[0]!;
    const bytes = readFileSync(snapshot);
    // A byte in the trailer: only the end of the stream can tell.
    bytes[bytes.length - 3] ^= 0x40;
    writeFileSync(snapshot, bytes);
    const replica = new FileReplicaClient(work.replica);
    const out = path.join(work.dir, 'out.db');
    const err = await applyPlan(replica, await planOf(replica), out, 'quick', { wholeFileMax: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as Error).message).toMatch(/corrupt replica file file:\/\/.*ltx\/9\/.*file checksum mismatch/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.tmp`)).toBe(false);
  });

  it('resumes where it stopped when the SFTP connection drops midway', async () => {
    sshd = await Sshd.start();
    const dir = await tempDir('stream-resume');
    const root = path.join(dir, 'remote');
    const { logger, lines } = captureLogger();
    // Small requests, few in flight: the download takes long enough to be cut in the middle.
    const client = new SftpReplicaClient(sshd.settings(), root, { logger, transferConcurrency: 2, readChunkSize: 16 * 1024, reconnectBaseMs: 50 });
    try {
      const big = await ltxFixture(dir, 9, 1, 50, 12 * 1024 * 1024);
      await client.writeLtxFile(big.info, big.localPath);
      const got: Buffer[] = [];
      let received = 0;
      let dropped = false;
      for await (const chunk of client.streamLtxFile(big.info)) {
        got.push(chunk);
        received += chunk.length;
        if (!dropped && received > 2 * 1024 * 1024) {
          dropped = true;
          sshd.dropConnections();
        }
      }
      expect(dropped).toBe(true);
      expect(Buffer.concat(got).equals(big.data)).toBe(true);
      expect(lines.some((l) => l.includes('sftp_connection_lost'))).toBe(true);
      expect(lines.some((l) => l.includes('resuming on a new connection'))).toBe(true);
    } finally {
      await client.close();
    }
  });
});
