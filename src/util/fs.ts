// Small file-system helpers shared by staging, local replicas, restore and followers.
import { closeSync, openSync, promises as fsp, type Stats } from 'node:fs';
import { syncFd } from './fd-write.js';
import type { FileHandle } from 'node:fs/promises';

/** Makes a rename or create in `dir` durable. Only the fsync goes through the thread pool (see fd-write.ts). */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await syncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** True when something (of any type) is at `p`; other errors than ENOENT are thrown. */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The file's stat, or null when nothing is at `p`; other errors are thrown. */
export async function statOrNull(p: string): Promise<Stats | null> {
  try {
    return await fsp.stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Removes the file at `p`; nothing there is fine, other errors are thrown. One unlink: fs.rm's
 * lstat first would be a second trip through the thread pool for every staged file removed.
 */
export async function unlinkIfExists(p: string): Promise<void> {
  try {
    await fsp.unlink(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The file opened for reading, or null when nothing is at `p`; other errors are thrown. */
export async function openOrNull(p: string): Promise<FileHandle | null> {
  try {
    return await fsp.open(p, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Up to `length` bytes at `offset` (fewer at the end of the file). */
export async function readAt(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  const { bytesRead } = await fh.read(b, 0, length, offset);
  return b.subarray(0, bytesRead);
}
