// The LTX database checksum of what a database file itself holds (no WAL frames), read through a
// handle the caller owns: opening and closing another descriptor of a live database would drop
// SQLite's POSIX locks in this process.
import type { FileHandle } from 'node:fs/promises';
import { DatabaseChecksum } from '../ltx/db-checksum.js';
import { parseDbHeader } from './db-header.js';

const CHUNK_BYTES = 1 << 20;

export async function checksumDatabaseFile(fh: FileHandle, what: string): Promise<{ checksum: bigint; pages: number; pageSize: number }> {
  const head = Buffer.alloc(100);
  await fh.read(head, 0, 100, 0);
  const header = parseDbHeader(head);
  if (!header) throw new Error(`${what} is not a SQLite database`);
  const { pageSize } = header;
  const { size } = await fh.stat();
  const pages = header.pageCount ?? Math.floor(size / pageSize);
  const sum = await DatabaseChecksum.create(pageSize);
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / pageSize));
  const buf = Buffer.alloc(perChunk * pageSize);
  for (let first = 1; first <= pages; first += perChunk) {
    const count = Math.min(perChunk, pages - first + 1);
    const { bytesRead } = await fh.read(buf, 0, count * pageSize, (first - 1) * pageSize);
    buf.fill(0, bytesRead, count * pageSize); // pages past the end of the file read as zeros
    for (let i = 0; i < count; i++) sum.add(first + i, buf.subarray(i * pageSize, (i + 1) * pageSize));
  }
  return { checksum: sum.value, pages, pageSize };
}
