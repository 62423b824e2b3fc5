// util/fd-write.ts: the synchronous small-file path staging writes with. Exact contents, in order,
// across the synchronous and the thread-pool paths, and errors that reach the caller.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openForWrite, syncFd, writeAll, SYNC_WRITE_MAX } from '../../src/util/fd-write.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-fd-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('writeAll', () => {
  it('writes small and large batches, one after another, byte for byte', async () => {
    const file = path.join(dir, 'mixed');
    const fd = openForWrite(file);
    const small = [pattern(10, 1), pattern(4096, 2), pattern(0, 3), pattern(77, 4)];
    // Over SYNC_WRITE_MAX: this batch goes through the thread pool.
    const large = [pattern(SYNC_WRITE_MAX, 5), pattern(SYNC_WRITE_MAX + 13, 6)];
    const tail = [pattern(5, 7)];
    let n = 0;
    for (const batch of [small, large, tail]) n += await writeAll(fd, batch);
    await syncFd(fd);
    closeSync(fd);
    const expected = Buffer.concat([...small, ...large, ...tail]);
    expect(n).toBe(expected.length);
    expect(readFileSync(file).equals(expected)).toBe(true);
  });

  it('truncates a file that exists', async () => {
    const file = path.join(dir, 'again');
    let fd = openForWrite(file);
    await writeAll(fd, [pattern(1000, 1)]);
    closeSync(fd);
    fd = openForWrite(file);
    await writeAll(fd, [pattern(3, 2)]);
    closeSync(fd);
    expect(readFileSync(file).equals(pattern(3, 2))).toBe(true);
  });

  it.each([100, SYNC_WRITE_MAX * 2])('reports a full disk (/dev/full) as the error it is, for %i bytes', async (n) => {
    const fd = openSync('/dev/full', 'w');
    try {
      await expect(writeAll(fd, [pattern(n, 1)])).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      closeSync(fd);
    }
  });

  it('fails to open a file in a directory that is not there', () => {
    expect(() => openForWrite(path.join(dir, 'missing', 'f'))).toThrow(expect.objectContaining({ code: 'ENOENT' }) as unknown as Error);
  });
});
