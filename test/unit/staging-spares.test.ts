// Dropped staged files are kept as spares and rewritten in place by the next writes (no new inode,
// no freed blocks), within the pool's bounds; what is renamed onto a final name is always exactly
// what was written. Real files in a temporary directory.
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LtxFileInfo } from '../../src/replica/client.js';
import { Staging } from '../../src/replication/staging.js';

// Directory fsyncs, counted by path: a spare may only be written over after its old directory's.
const dirSyncs = vi.hoisted(() => [] as string[]);
vi.mock('../../src/util/fs.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/util/fs.js')>();
  return {
    ...real,
    fsyncDir: async (dir: string) => {
      dirSyncs.push(dir);
      await real.fsyncDir(dir);
    },
  };
});

async function* once(chunks: Buffer[]): AsyncGenerator<Buffer[]> {
  yield chunks;
}

/** Distinct bytes for each TXID, `size` of them. */
function contents(txid: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (txid * 31 + i * 7) & 0xff;
  return b;
}

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'walship-spares-'));
  dbPath = path.join(dir, 'app.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function put(staging: Staging, txid: number, size: number): Promise<LtxFileInfo> {
  return staging.write(0, txid, txid, once([contents(txid, size)]), 1_700_000_000_000 + txid);
}

const spareDir = (): string => path.join(dir, '.app.db-walship', 'spare');
const spareNames = (): string[] => (existsSync(spareDir()) ? readdirSync(spareDir()).sort() : []);

describe('staging spares', () => {
  it('rewrites a dropped file in place: the same inode, cut to the new length, exact contents', async () => {
    const staging = new Staging(dbPath);
    const big = await put(staging, 1, 9000);
    const path1 = staging.filePath(0, 1, 1);
    const ino = statSync(path1).ino;
    await staging.remove(big);
    expect(existsSync(path1)).toBe(false);
    expect(spareNames()).toHaveLength(1);
    expect(staging.spares.bytes).toBe(9000);

    const small = await put(staging, 2, 3000);
    const path2 = staging.filePath(0, 2, 2);
    expect(statSync(path2).ino).toBe(ino);
    expect(small.size).toBe(3000);
    expect(readFileSync(path2).equals(contents(2, 3000))).toBe(true);
    expect(spareNames()).toEqual([]);
    expect(staging.spares.size).toBe(0);
    // Listed and read back like any staged file; no temporary name left behind.
    expect((await staging.list(0)).map((f) => [f.minTXID, f.size])).toEqual([[2, 3000]]);
    expect((await staging.read(0, 2, 2)).equals(contents(2, 3000))).toBe(true);
    expect(readdirSync(staging.levelDir(0))).toEqual([path.basename(path2)]);
  });

  it('writes over a spare only after the directory it left was fsynced, once for a whole batch', async () => {
    const staging = new Staging(dbPath);
    const a = await put(staging, 1, 2000);
    const b = await put(staging, 2, 2000);
    const inodes = [statSync(staging.filePath(0, 1, 1)).ino, statSync(staging.filePath(0, 2, 2)).ino];
    await staging.remove(a);
    await staging.remove(b);
    expect(staging.spares.unsettledDirs).toEqual([staging.levelDir(0)]);
    dirSyncs.length = 0;
    await put(staging, 3, 1000);
    await put(staging, 4, 1000);
    expect(dirSyncs).toEqual([staging.levelDir(0)]);
    expect(staging.spares.unsettledDirs).toEqual([]);
    expect([statSync(staging.filePath(0, 3, 3)).ino, statSync(staging.filePath(0, 4, 4)).ino].sort()).toEqual(inodes.sort());
  });

  it('deletes the spares waiting on a directory that cannot be fsynced, and writes a new file', async () => {
    const staging = new Staging(dbPath);
    await staging.remove(await put(staging, 1, 2000));
    // The level directory goes (as a hand-made cleanup would): its fsync fails.
    rmSync(staging.levelDir(0), { recursive: true });
    await put(staging, 2, 900);
    expect(readFileSync(staging.filePath(0, 2, 2)).equals(contents(2, 900))).toBe(true);
    expect(statSync(staging.filePath(0, 2, 2)).nlink).toBe(1);
    expect(spareNames()).toEqual([]);
    expect(staging.spares.size).toBe(0);
    expect(staging.spares.bytes).toBe(0);
  });

  it('never writes over a spare that has another name, and drops it from the pool', async () => {
    const staging = new Staging(dbPath);
    await staging.remove(await put(staging, 1, 2000));
    // As a power cut could leave it: the old name back beside the spare's.
    const [spare] = spareNames();
    const other = path.join(dir, 'old-name.ltx');
    linkSync(path.join(spareDir(), spare!), other);
    await put(staging, 2, 700);
    expect(readFileSync(other).equals(contents(1, 2000))).toBe(true);
    expect(statSync(other).nlink).toBe(1);
    expect(statSync(staging.filePath(0, 2, 2)).ino).not.toBe(statSync(other).ino);
    expect(readFileSync(staging.filePath(0, 2, 2)).equals(contents(2, 700))).toBe(true);
    expect(spareNames()).toEqual([]);
  });

  it('at a start, leaves out a spare that has another name (and keeps that name)', async () => {
    const first = new Staging(dbPath);
    const staged = [await put(first, 1, 2000), await put(first, 2, 2000)];
    for (const f of staged) await first.remove(f);
    const [linked] = spareNames();
    const other = path.join(dir, 'old-name.ltx');
    linkSync(path.join(spareDir(), linked!), other);
    const next = new Staging(dbPath);
    expect(next.spares.size).toBe(1);
    expect(spareNames()).not.toContain(linked);
    expect(readFileSync(other).length).toBe(2000);
  });

  it('keeps a batch of dropped files within the count and byte bounds, and deletes the rest', async () => {
    const staging = new Staging(dbPath, { count: 3, totalBytes: 10_000, fileBytes: 4096 });
    const files: LtxFileInfo[] = [];
    for (let t = 1; t <= 6; t++) files.push(await put(staging, t, t === 2 ? 5000 : 3000));
    for (const f of files) await staging.remove(f);
    // 1 (3000) and 3 (3000) and 4 (3000) fit; 2 is over fileBytes; 5 and 6 are past the count.
    expect(staging.spares.size).toBe(3);
    expect(staging.spares.bytes).toBe(9000);
    expect(spareNames()).toHaveLength(3);
    expect(readdirSync(staging.levelDir(0))).toEqual([]);
  });

  it('stops at the byte bound before the count bound', async () => {
    const staging = new Staging(dbPath, { count: 10, totalBytes: 7000, fileBytes: 4096 });
    const files: LtxFileInfo[] = [];
    for (let t = 1; t <= 4; t++) files.push(await put(staging, t, 3000));
    for (const f of files) await staging.remove(f);
    expect(staging.spares.size).toBe(2);
    expect(staging.spares.bytes).toBe(6000);
  });

  it('uses the spares the last run left, and deletes those past the bounds and nothing else', async () => {
    const first = new Staging(dbPath);
    const staged: LtxFileInfo[] = [];
    for (let t = 1; t <= 3; t++) staged.push(await put(first, t, 2000));
    for (const f of staged) await first.remove(f);
    mkdirSync(spareDir(), { recursive: true });
    writeFileSync(path.join(spareDir(), 'not-a-spare'), 'keep me');
    expect(spareNames()).toHaveLength(4);

    const next = new Staging(dbPath, { count: 2, totalBytes: 1 << 20, fileBytes: 4096 });
    expect(next.spares.size).toBe(2);
    expect(spareNames()).toHaveLength(3);
    expect(spareNames()).toContain('not-a-spare');
    await put(next, 4, 100);
    await put(next, 5, 100);
    await put(next, 6, 100);
    expect(spareNames()).toEqual(['not-a-spare']);
    for (const t of [4, 5, 6]) expect(readFileSync(next.filePath(0, t, t)).equals(contents(t, 100))).toBe(true);
  });

  it('writes a new file when a spare has gone', async () => {
    const staging = new Staging(dbPath);
    await staging.remove(await put(staging, 1, 2000));
    for (const n of spareNames()) rmSync(path.join(spareDir(), n));
    await put(staging, 2, 1500);
    expect(readFileSync(staging.filePath(0, 2, 2)).equals(contents(2, 1500))).toBe(true);
    expect(staging.spares.size).toBe(0);
  });

  it('removes a spare that a failed write left half rewritten, and never renames it onto a final name', async () => {
    const staging = new Staging(dbPath);
    await staging.remove(await put(staging, 1, 2000));
    async function* failing(): AsyncGenerator<Buffer[]> {
      yield [contents(2, 500)];
      throw new Error('encoder failed');
    }
    await expect(staging.write(0, 2, 2, failing(), 1_700_000_000_002)).rejects.toThrow('encoder failed');
    expect(spareNames()).toEqual([]);
    expect(existsSync(staging.filePath(0, 2, 2))).toBe(false);
    expect(readdirSync(staging.levelDir(0))).toEqual([]);
  });

  it('deletes a dropped file that is larger than a spare may be', async () => {
    const staging = new Staging(dbPath);
    const big = await put(staging, 1, 300 * 1024);
    await staging.remove(big);
    expect(spareNames()).toEqual([]);
    expect(existsSync(staging.filePath(0, 1, 1))).toBe(false);
  });

  it('takes a removal of a file that is already gone as done', async () => {
    const staging = new Staging(dbPath);
    const f = await put(staging, 1, 2000);
    rmSync(staging.filePath(0, 1, 1));
    await staging.remove(f);
    expect(spareNames()).toEqual([]);
    expect(await staging.list(0)).toEqual([]);
  });
});
