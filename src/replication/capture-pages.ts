// Which pages a level-0 file holds, and how they are fed to the encoder: pure, apart from reading
// the pages a caller's source yields.
import type { LtxEncoder } from '../ltx/encoder.js';
import { lockPgno } from '../ltx/format.js';

/** Encoded chunks handed to staging at a time. */
const ENCODE_BATCH = 256;

/** Every page of a database of `commit` pages, the lock page left out. */
export function allPages(commit: number, pageSize: number): number[] {
  const lock = lockPgno(pageSize);
  const out: number[] = [];
  for (let p = 1; p <= commit; p++) if (p !== lock) out.push(p);
  return out;
}

/**
 * The pages an incremental capture ships, ascending: those with a WAL frame at or past `start`
 * (within the database's `commit` pages), and those the database grew by since `prevCommit`, which
 * need not have a frame of their own.
 */
export function changedPages(frames: ReadonlyMap<number, { walOffset: number }>, start: number, prevCommit: number, commit: number, pageSize: number): number[] {
  const lock = lockPgno(pageSize);
  const set = new Set<number>();
  for (const [pgno, ref] of frames) if (ref.walOffset >= start && pgno <= commit) set.add(pgno);
  for (let p = prevCommit + 1; p <= commit; p++) if (p !== lock) set.add(p);
  return [...set].sort((a, b) => a - b);
}

/** A whole LTX file, header to trailer, in batches of encoded chunks. */
export async function* encodeChunks(enc: LtxEncoder, pages: AsyncIterable<[number, Buffer]>): AsyncGenerator<Buffer[]> {
  let batch: Buffer[] = [enc.begin()];
  for await (const [pgno, data] of pages) {
    batch.push(...enc.encodePage(pgno, data));
    if (batch.length >= ENCODE_BATCH) {
      yield batch;
      batch = [];
    }
  }
  batch.push(enc.finish());
  yield batch;
}
