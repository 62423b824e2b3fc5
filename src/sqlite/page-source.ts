// Reads the pages of one database state (the database file overlaid with committed WAL frames) in
// batches. One read per page would cost an await and a syscall per 4 KiB, which dominates a bulk
// capture; instead each batch coalesces neighbouring pages into one read per run and issues the
// runs together.
import type { FileHandle } from 'node:fs/promises';
import { WAL_FRAME_HEADER_SIZE } from './wal-format.js';
import type { WalPageRef } from './wal-scanner.js';

/** Pages per batch: 1 MiB of 4 KiB pages held at once. */
const BATCH_PAGES = 256;

export class PageSource {
  constructor(
    private readonly db: FileHandle,
    private readonly wal: FileHandle | null,
    /** The newest committed WAL copy of each page; pages not in it come from the database file. */
    private readonly walPages: ReadonlyMap<number, WalPageRef>,
    private readonly pageSize: number,
    private readonly names: { db: string; wal: string },
  ) {}

  /** Yields [pgno, bytes] in the order of `pgnos`. */
  async *pages(pgnos: readonly number[]): AsyncGenerator<[number, Buffer]> {
    for (let i = 0; i < pgnos.length; i += BATCH_PAGES) {
      const batch = pgnos.slice(i, i + BATCH_PAGES);
      const data = await this.readBatch(batch);
      for (let j = 0; j < batch.length; j++) yield [batch[j]!, data[j]!];
    }
  }

  private async readBatch(pgnos: number[]): Promise<Buffer[]> {
    const out: Buffer[] = new Array<Buffer>(pgnos.length);
    const fromWal: { index: number; offset: number }[] = [];
    const fromDb: { index: number; pgno: number }[] = [];
    pgnos.forEach((pgno, index) => {
      const ref = this.walPages.get(pgno);
      if (ref?.data) out[index] = ref.data;
      else if (ref) fromWal.push({ index, offset: ref.walOffset });
      else fromDb.push({ index, pgno });
    });
    const reads: Promise<void>[] = [];
    const frameSize = WAL_FRAME_HEADER_SIZE + this.pageSize;
    fromWal.sort((a, b) => a.offset - b.offset);
    for (const run of runs(fromWal, (a, b) => b.offset === a.offset + frameSize)) {
      reads.push(
        (async () => {
          const start = run[0]!.offset;
          const buf = await readExactly(this.wal!, start, run.length * frameSize, this.names.wal);
          run.forEach((p, k) => (out[p.index] = buf.subarray(k * frameSize + WAL_FRAME_HEADER_SIZE, (k + 1) * frameSize)));
        })(),
      );
    }
    fromDb.sort((a, b) => a.pgno - b.pgno);
    for (const run of runs(fromDb, (a, b) => b.pgno === a.pgno + 1)) {
      reads.push(
        (async () => {
          const length = run.length * this.pageSize;
          const buf = Buffer.alloc(length);
          // A page inside the database size that SQLite never wrote (past the file's end) reads as zeros.
          await this.db.read(buf, 0, length, (run[0]!.pgno - 1) * this.pageSize);
          run.forEach((p, k) => (out[p.index] = buf.subarray(k * this.pageSize, (k + 1) * this.pageSize)));
        })(),
      );
    }
    await Promise.all(reads);
    return out;
  }
}

/** Splits a sorted list into maximal runs of neighbours. */
function runs<T>(items: T[], adjacent: (a: T, b: T) => boolean): T[][] {
  const out: T[][] = [];
  for (const item of items) {
    const last = out[out.length - 1];
    if (last && adjacent(last[last.length - 1]!, item)) last.push(item);
    else out.push([item]);
  }
  return out;
}

async function readExactly(fh: FileHandle, offset: number, length: number, name: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) throw new Error(`${name}: short read at offset ${offset + done} (wanted ${length - done} more bytes)`);
    done += bytesRead;
  }
  return buf;
}
