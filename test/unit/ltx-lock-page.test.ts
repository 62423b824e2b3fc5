// Snapshots that reach SQLite's lock page (the page holding byte 0x40000000). With 64 KiB pages
// that page is 16385, so these files describe a 1 GiB database; the pages are mostly zeros.
import { describe, expect, it } from 'vitest';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM, lockPgno, type LtxHeader } from '../../src/ltx/format.js';

const PAGE = 65536;
const LOCK = lockPgno(PAGE);

function header(commit: number): LtxHeader {
  return {
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize: PAGE,
    commit,
    minTXID: 1,
    maxTXID: 1,
    timestamp: 0,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
  };
}

// A 32-byte repeating pattern: it compresses to a few hundred bytes and decompresses fast.
const scratch = Buffer.alloc(PAGE);
for (let i = 0; i < PAGE; i++) scratch[i] = i % 32;
function page(pgno: number): Buffer {
  scratch.writeUInt32BE(pgno, 100); // distinct content per page, one buffer reused
  return scratch;
}

async function decodePgnos(buf: Buffer): Promise<{ count: number; first: number; last: number; stamps: boolean }> {
  let count = 0;
  let first = 0;
  let last = 0;
  let stamps = true;
  for await (const p of LtxFile.open(buf).pages()) {
    if (count === 0) first = p.pgno;
    count++;
    last = p.pgno;
    if (p.data.readUInt32BE(100) !== p.pgno) stamps = false;
  }
  return { count, first, last, stamps };
}

describe('snapshots around the lock page', () => {
  it('lock page for 64 KiB pages is 16385', () => {
    expect(LOCK).toBe(16385);
  });

  it('a snapshot past the lock page skips it, refuses it, and decodes with every other page', async () => {
    const enc = await LtxEncoder.create(header(LOCK + 2));
    const parts: Buffer[] = [enc.begin()];
    for (let pgno = 1; pgno < LOCK; pgno++) parts.push(...enc.encodePage(pgno, page(pgno)));
    expect(() => enc.encodePage(LOCK, page(LOCK))).toThrow(`page ${LOCK} is the lock page`);
    expect(() => enc.encodePage(LOCK + 2, page(LOCK + 2))).toThrow(`contiguous: ${LOCK - 1} then ${LOCK + 2}`);
    parts.push(...enc.encodePage(LOCK + 1, page(LOCK + 1)));
    expect(() => enc.finish()).toThrow(`snapshot ends at page ${LOCK + 1}, database has ${LOCK + 2}`);
    parts.push(...enc.encodePage(LOCK + 2, page(LOCK + 2)));
    parts.push(enc.finish());
    expect(enc.pageCount).toBe(LOCK + 1);
    const got = await decodePgnos(Buffer.concat(parts));
    expect(got).toEqual({ count: LOCK + 1, first: 1, last: LOCK + 2, stamps: true });
  });

  it('a snapshot whose size is exactly the lock page ends one page before it', async () => {
    const enc = await LtxEncoder.create(header(LOCK));
    enc.begin();
    for (let pgno = 1; pgno < LOCK - 1; pgno++) enc.encodePage(pgno, page(pgno));
    expect(() => enc.finish()).toThrow(`snapshot ends at page ${LOCK - 2}, database has ${LOCK}`);
    enc.encodePage(LOCK - 1, page(LOCK - 1));
    expect(() => enc.encodePage(LOCK, page(LOCK))).toThrow(/lock page/);
    expect(enc.finish().length).toBeGreaterThan(6 + 8 + 16);
    expect(enc.pageCount).toBe(LOCK - 1);
  });
});
