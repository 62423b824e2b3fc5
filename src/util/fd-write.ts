// Writing a small file the cheap way: the calls that only touch the page cache and the directory
// (open, write, utimes, close, rename) are made synchronously, and only the fsync, which waits for
// the disk, goes through libuv's thread pool.
//
// Each asynchronous call is a trip through that pool: the main thread queues the request and wakes
// a sleeping worker, and the reply comes back through the event loop. On the 2-core VM the bench
// runs on, that trip took 30 to 200 µs of the main thread per call (the open of a new file the
// most), where the synchronous call takes 5 to 20 µs. A level-0 file was six trips, about 40 files a
// second at sync-interval 0s. Large writes (a bulk load's batches) still go through the pool, so
// the event loop does not wait while the kernel copies them.
import { closeSync, constants, fstatSync, fsync, ftruncateSync, futimesSync, openSync, writev, writevSync } from 'node:fs';
import { promisify } from 'node:util';

/** Batches up to this many bytes are written synchronously; larger ones through the thread pool. */
export const SYNC_WRITE_MAX = 256 * 1024;

const fsyncAsync = promisify(fsync);

/** writev at the file's current offset, through the thread pool; resolves to the bytes written. */
function writevAsync(fd: number, buffers: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => writev(fd, buffers, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Opens `file` for writing, created or truncated (as fs.open's 'w'). */
export function openForWrite(file: string): number {
  return openSync(file, 'w');
}

/**
 * Opens an existing file to be written over from its start, neither created nor truncated: its
 * blocks are overwritten in place, and cutTo() drops what is left past the new end.
 */
export function openForRewrite(file: string): number {
  return openSync(file, constants.O_WRONLY);
}

/** How many names the open file has (its link count). */
export function linksOf(fd: number): number {
  return fstatSync(fd).nlink;
}

/** Sets the file's length to `size` (after a rewrite that may be shorter than what was there). */
export function cutTo(fd: number, size: number): void {
  ftruncateSync(fd, size);
}

/** Writes every byte of `buffers` at the file's current offset; returns how many that was. */
export async function writeAll(fd: number, buffers: readonly Buffer[]): Promise<number> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let done = 0;
  let rest = buffers;
  while (done < total) {
    const n = total - done <= SYNC_WRITE_MAX ? writevSync(fd, rest) : await writevAsync(fd, rest);
    if (n <= 0) throw new Error(`write returned ${n} with ${total - done} bytes left`);
    done += n;
    if (done < total) rest = remainder(rest, n);
  }
  return total;
}

/** `buffers` without their first `n` bytes (after a short write). */
function remainder(buffers: readonly Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** Sets the file's access and modification times. */
export function stampTimes(fd: number, when: Date): void {
  futimesSync(fd, when, when);
}

/** Waits for the file's data and metadata to reach the disk. */
export function syncFd(fd: number): Promise<void> {
  return fsyncAsync(fd);
}

/** Closes `fd`, ignoring an error (for cleanup after another failure). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // the first error is the one to report
  }
}
