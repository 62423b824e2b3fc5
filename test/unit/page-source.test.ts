import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { PageSource } from '../../src/sqlite/page-source.js';
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE } from '../../src/sqlite/wal-format.js';
import type { WalPageRef } from '../../src/sqlite/wal-scanner.js';

const PAGE = 512;
const FRAME = WAL_FRAME_HEADER_SIZE + PAGE;
let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'walship-page-source-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A page whose every byte tells where it came from. */
function page(tag: number, pgno: number): Buffer {
  return Buffer.alloc(PAGE, (tag * 31 + pgno) % 251);
}

async function collect(source: PageSource, pgnos: number[]): Promise<[number, Buffer][]> {
  const out: [number, Buffer][] = [];
  for await (const [pgno, data] of source.pages(pgnos)) out.push([pgno, Buffer.from(data)]);
  return out;
}

test('overlays WAL copies (kept or on disk) on the database file, in the order asked, across batches', async () => {
  // Database file: 600 pages (more than one batch), tagged 1; the file ends at page 590.
  const dbPages = 590;
  await fsp.writeFile(path.join(dir, 'db'), Buffer.concat(Array.from({ length: dbPages }, (_, i) => page(1, i + 1))));
  // WAL: frames for some pages, tagged 2, in an order unrelated to page numbers, one stale copy.
  const walOrder = [7, 300, 8, 9, 299, 7, 598];
  const frames = walOrder.map((pgno, i) => Buffer.concat([Buffer.alloc(WAL_FRAME_HEADER_SIZE, 0xee), page(i === 5 ? 3 : 2, pgno)]));
  await fsp.writeFile(path.join(dir, 'wal'), Buffer.concat([Buffer.alloc(WAL_HEADER_SIZE), ...frames]));
  const refs = new Map<number, WalPageRef>();
  walOrder.forEach((pgno, i) => refs.set(pgno, { walOffset: WAL_HEADER_SIZE + i * FRAME, data: null }));
  // One page kept in memory by the scan.
  refs.set(9, { walOffset: 0, data: page(4, 9) });

  const db = await fsp.open(path.join(dir, 'db'), 'r');
  const wal = await fsp.open(path.join(dir, 'wal'), 'r');
  try {
    const source = new PageSource(db, wal, refs, PAGE, { db: 'db', wal: 'wal' });
    const wanted = [...Array.from({ length: 600 }, (_, i) => i + 1).reverse()];
    const got = await collect(source, wanted);
    expect(got.map(([p]) => p)).toEqual(wanted);
    for (const [pgno, data] of got) {
      let expected: Buffer;
      if (pgno === 7) expected = page(3, 7); // the newer of two WAL copies
      else if (pgno === 9) expected = page(4, 9);
      else if (pgno === 8 || pgno === 300 || pgno === 299 || pgno === 598) expected = page(2, pgno);
      else if (pgno > dbPages) expected = Buffer.alloc(PAGE); // never written: zeros
      else expected = page(1, pgno);
      expect(data.equals(expected), `page ${pgno}`).toBe(true);
    }
  } finally {
    await db.close();
    await wal.close();
  }
});

test('a WAL shorter than a frame it should hold is an error naming the file', async () => {
  await fsp.writeFile(path.join(dir, 'db'), page(1, 1));
  await fsp.writeFile(path.join(dir, 'wal'), Buffer.alloc(WAL_HEADER_SIZE + 10));
  const db = await fsp.open(path.join(dir, 'db'), 'r');
  const wal = await fsp.open(path.join(dir, 'wal'), 'r');
  try {
    const refs = new Map<number, WalPageRef>([[1, { walOffset: WAL_HEADER_SIZE, data: null }]]);
    const source = new PageSource(db, wal, refs, PAGE, { db: '/data/x.db', wal: '/data/x.db-wal' });
    await expect(collect(source, [1])).rejects.toThrow(/\/data\/x\.db-wal: short read at offset/);
  } finally {
    await db.close();
    await wal.close();
  }
});

test('pages past the end of the database file read as zeros in a later batch too, not as bytes the last batch left', async () => {
  // The second batch's pages past the file's end must not show what the first batch read.
  const dbPages = 260;
  await fsp.writeFile(path.join(dir, 'db'), Buffer.concat(Array.from({ length: dbPages }, (_, i) => page(1, i + 1))));
  const db = await fsp.open(path.join(dir, 'db'), 'r');
  try {
    const source = new PageSource(db, null, new Map(), PAGE, { db: 'db', wal: 'wal' });
    const wanted = Array.from({ length: 300 }, (_, i) => i + 1);
    const got = await collect(source, wanted);
    expect(got.map(([p]) => p)).toEqual(wanted);
    for (const [pgno, data] of got) {
      const expected = pgno > dbPages ? Buffer.alloc(PAGE) : page(1, pgno);
      expect(data.equals(expected), `page ${pgno}`).toBe(true);
    }
  } finally {
    await db.close();
  }
});
