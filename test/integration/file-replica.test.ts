// What only the file:// backend has: a directory anyone on the machine can put things in. Entries
// that are not regular files under valid LTX names are skipped and never opened, and a temporary
// file left on a filesystem that went read-only is swept once it is writable again.
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ReplicaError } from '../../src/replica/client.js';
import { FileReplicaClient } from '../../src/replica/file.js';
import { ltxFileName, ltxFilePath } from '../../src/replica/layout.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { mountTmpfs, type TmpfsMount } from '../helpers/mounts.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { captureLogger, errorOf, ltxFixture, remoteNames, tempDir, within } from '../helpers/sftp-fixtures.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Puts a FIFO, a symlink to /dev/zero and a symlink to a real file under LTX names. */
async function plantHostile(root: string, realFile: string): Promise<{ fifo: string; zero: string; link: string }> {
  const fifo = ltxFilePath(root, { level: 0, minTXID: 1000, maxTXID: 1000 });
  const zero = ltxFilePath(root, { level: 9, minTXID: 1, maxTXID: 1000 });
  const link = ltxFilePath(root, { level: 0, minTXID: 1001, maxTXID: 1001 });
  await fsp.mkdir(path.dirname(fifo), { recursive: true });
  await fsp.mkdir(path.dirname(zero), { recursive: true });
  execFileSync('mkfifo', [fifo]);
  await fsp.symlink('/dev/zero', zero);
  await fsp.symlink(realFile, link);
  return { fifo, zero, link };
}

describe('file replica', () => {
  test('a FIFO or a symlink under an LTX name is skipped with one warning, and never opened', async () => {
    const base = await tempDir('file-hostile');
    cleanups.push(() => fsp.rm(base, { recursive: true, force: true }));
    const root = path.join(base, 'replica');
    const { logger, lines } = captureLogger();
    const c = new FileReplicaClient(root, { logger });
    const real = await ltxFixture(base, 0, 1, 1, 4096);
    await c.writeLtxFile(real.info, real.localPath);
    const planted = await plantHostile(root, ltxFilePath(root, real.info));

    for (let i = 0; i < 3; i++) {
      expect(await within(5_000, 'list level 0', c.listLtxFiles(0))).toEqual([real.info]);
      expect(await within(5_000, 'list level 9', c.listLtxFiles(9))).toEqual([]);
    }
    const warnings = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'replica_entry_skipped');
    expect(warnings.map((w) => [w.file, w.kind]).sort()).toEqual(
      [
        [planted.fifo, 'fifo'],
        [planted.link, 'symlink'],
        [planted.zero, 'symlink'],
      ].sort(),
    );
    // Asked for by name anyway, neither blocks nor streams forever: refused.
    const fifoErr = await within(5_000, 'read the FIFO', errorOf(c.readLtxFile({ level: 0, minTXID: 1000, maxTXID: 1000 })));
    expect(fifoErr).toBeInstanceOf(ReplicaError);
    expect(fifoErr.message).toMatch(/is a fifo, not a regular file/);
    const zeroErr = await within(
      5_000,
      'stream /dev/zero',
      errorOf(
        (async () => {
          for await (const _ of c.streamLtxFile({ level: 9, minTXID: 1, maxTXID: 1000 })) void _;
        })(),
      ),
    );
    expect(zeroErr).toBeInstanceOf(ReplicaError);
    expect(zeroErr.message).toContain(ltxFileName(1, 1000));
  });

  test('restore from a replica holding a FIFO and a /dev/zero symlink under valid names is exact and does not hang', async () => {
    const work: Workdir = makeWorkdir();
    cleanups.push(() => work.cleanup());
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 20, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    const anyFile = (await remoteNames(work.replica, 0)).find((n) => n.endsWith('.ltx'))!;
    const planted = await plantHostile(work.replica, path.join(work.replica, 'ltx', '0', anyFile));
    const out = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-o', out, `file://${work.replica}`], {}, 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(20);
    expect(dump(out)).toBe(dump(work.db));
    const text = r.stdout + r.stderr;
    for (const f of [planted.fifo, planted.zero, planted.link]) expect(text).toContain(f);
  });

  test('a temporary file left on a filesystem that went read-only is swept once it is writable again', async () => {
    const mnt: TmpfsMount = await mountTmpfs(16 * 1024 * 1024);
    cleanups.push(() => mnt.cleanup());
    const root = path.join(mnt.dir, 'replica');
    const local = await tempDir('file-erofs-local');
    cleanups.push(() => fsp.rm(local, { recursive: true, force: true }));
    const first = await ltxFixture(local, 0, 1, 1, 1000);
    await new FileReplicaClient(root).writeLtxFile(first.info, first.localPath);
    // What an interrupted copy whose cleanup failed leaves: a temporary name, untouched for an hour.
    const leftover = `${ltxFileName(2, 2)}.0badc0de.tmp`;
    const leftoverPath = path.join(root, 'ltx', '0', leftover);
    await fsp.writeFile(leftoverPath, Buffer.alloc(300_000, 1));
    const hourAgo = new Date(Date.now() - 3_600_000);
    await fsp.utimes(leftoverPath, hourAgo, hourAgo);

    // The replicator starts while the filesystem is read-only: its write and its sweep both fail.
    const { logger, lines } = captureLogger();
    const c = new FileReplicaClient(root, { logger, sweepRetryMs: 200 });
    mnt.readOnly();
    const second = await ltxFixture(local, 0, 2, 2, 1000);
    const err = await errorOf(c.writeLtxFile(second.info, second.localPath));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toMatch(/EROFS/);
    expect(await remoteNames(root, 0)).toEqual([ltxFileName(1, 1), leftover]);
    expect(lines.some((l) => l.includes('"event":"tmp_sweep_failed"') && l.includes('EROFS'))).toBe(true);

    mnt.readWrite();
    await new Promise((r) => setTimeout(r, 300)); // past sweepRetryMs
    await c.writeLtxFile(second.info, second.localPath);
    expect(await remoteNames(root, 0)).toEqual([ltxFileName(1, 1), ltxFileName(2, 2)]);
    expect(lines.some((l) => l.includes('"event":"tmp_swept"') && l.includes(leftover))).toBe(true);
    await c.close();
  });
});
