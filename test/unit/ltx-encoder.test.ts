import { describe, expect, it } from 'vitest';
import { createCrc64 } from '../../src/ltx/crc64.js';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { CHECKSUM_FLAG, encodeHeader, HEADER_FLAG_NO_CHECKSUM, LtxFormatError, type LtxHeader } from '../../src/ltx/format.js';
import { decompressBlock } from '../../src/ltx/lz4.js';
import { readUvarint } from '../../src/ltx/varint.js';

function hdr(over: Partial<LtxHeader> = {}): LtxHeader {
  return {
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize: 4096,
    commit: 3,
    minTXID: 1,
    maxTXID: 1,
    timestamp: 1700000000123,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
    ...over,
  };
}

function page(pgno: number, size = 4096): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (pgno * 7 + (i >> 6)) & 0xff;
  b.writeUInt32BE(pgno, 0);
  return b;
}

async function encode(h: LtxHeader, pages: Array<[number, Buffer]>, post = 0n): Promise<{ buf: Buffer; enc: LtxEncoder }> {
  const enc = await LtxEncoder.create(h);
  const parts = [enc.begin()];
  for (const [pgno, data] of pages) parts.push(...enc.encodePage(pgno, data));
  parts.push(enc.finish(post));
  return { buf: Buffer.concat(parts), enc };
}

interface ParsedFrame {
  offset: number;
  pgno: number;
  flags: number;
  blockSize: number;
  block: Buffer;
}

/** Parses an LTX file by the spec alone, without the decoder under test. */
function parseBySpec(buf: Buffer, pageSize: number) {
  const frames: ParsedFrame[] = [];
  let pos = 100;
  for (;;) {
    const pgno = buf.readUInt32BE(pos);
    const flags = buf.readUInt16BE(pos + 4);
    if (pgno === 0 && flags === 0) break;
    const blockSize = buf.readUInt32BE(pos + 6);
    frames.push({ offset: pos, pgno, flags, blockSize, block: buf.subarray(pos + 10, pos + 10 + blockSize) });
    pos += 10 + blockSize;
  }
  const endMarker = pos;
  pos += 6;
  const index: Array<[number, number, number]> = [];
  for (;;) {
    const a = readUvarint(buf, pos);
    pos = a.next;
    if (a.value === 0) break;
    const b = readUvarint(buf, pos);
    const c = readUvarint(buf, b.next);
    pos = c.next;
    index.push([a.value, b.value, c.value]);
  }
  const indexSize = Number(buf.readBigUInt64BE(pos));
  const indexStart = endMarker + 6;
  pos += 8;
  return {
    frames,
    endMarker,
    indexStart,
    indexEnd: pos - 8,
    indexSize,
    index,
    trailerAt: pos,
    post: buf.readBigUInt64BE(pos),
    fileChecksum: buf.readBigUInt64BE(pos + 8),
    end: pos + 16,
    pages: frames.map((f) => decompressBlock(f.block, pageSize)),
  };
}

describe('LtxEncoder output layout', () => {
  const pages: Array<[number, Buffer]> = [
    [1, page(1)],
    [2, page(2)],
    [3, page(3)],
  ];

  it('writes header, size-flagged LZ4 frames, end marker, page index, index size and trailer', async () => {
    const h = hdr();
    const { buf, enc } = await encode(h, pages, 0n);
    expect(buf.subarray(0, 100).equals(encodeHeader(h))).toBe(true);
    const p = parseBySpec(buf, 4096);
    expect(p.end).toBe(buf.length);
    expect(p.frames.map((f) => f.pgno)).toEqual([1, 2, 3]);
    expect(p.frames.map((f) => f.flags)).toEqual([1, 1, 1]);
    expect(p.frames[0]!.offset).toBe(100);
    for (const [i, [, data]] of pages.entries()) expect(p.pages[i]!.equals(data)).toBe(true);
    expect(buf.subarray(p.endMarker, p.endMarker + 6).equals(Buffer.alloc(6))).toBe(true);
    // Each index entry names the frame: its offset and its whole size (header + size field + block).
    expect(p.index).toEqual(p.frames.map((f) => [f.pgno, f.offset, 10 + f.blockSize]));
    // The size counts the entries and the terminating 0, not itself.
    expect(p.indexSize).toBe(p.indexEnd - p.indexStart);
    expect(enc.size).toBe(buf.length);
    expect(enc.pageCount).toBe(3);
  });

  it('sets bit 63 on the file checksum: CRC-64/ISO of everything but the last 8 bytes, pages uncompressed', async () => {
    const post = CHECKSUM_FLAG | 0xabcdefn;
    const { buf } = await encode(hdr({ flags: 0 }), pages, post);
    const p = parseBySpec(buf, 4096);
    expect(p.post).toBe(post);

    const logical = await createCrc64();
    logical.update(buf.subarray(0, 100));
    for (const [i, f] of p.frames.entries()) {
      logical.update(buf.subarray(f.offset, f.offset + 10));
      logical.update(p.pages[i]!);
    }
    logical.update(buf.subarray(p.endMarker, buf.length - 8));
    expect(p.fileChecksum).toBe(CHECKSUM_FLAG | logical.digest());
    expect(p.fileChecksum & CHECKSUM_FLAG).toBe(CHECKSUM_FLAG);

    // Hashing the compressed bytes instead would give something else.
    const raw = await createCrc64();
    raw.update(buf.subarray(0, buf.length - 8));
    expect(p.fileChecksum).not.toBe(CHECKSUM_FLAG | raw.digest());
  });

  it('the same input always encodes to the same bytes', async () => {
    const a = await encode(hdr(), pages);
    const b = await encode(hdr(), pages);
    expect(a.buf.equals(b.buf)).toBe(true);
  });

  it('an incremental file with no pages is header, end marker, a one-byte index, its size and trailer', async () => {
    const { buf } = await encode(hdr({ minTXID: 7, maxTXID: 7, commit: 10 }), []);
    expect(buf.length).toBe(100 + 6 + 1 + 8 + 16);
    expect(buf.subarray(100, 115).toString('hex')).toBe('000000000000' + '00' + '0000000000000001');
    const f = LtxFile.open(buf);
    await expect(f.verify()).resolves.toMatchObject({ postApplyChecksum: 0n });
    const seen: number[] = [];
    for await (const pg of LtxFile.open(buf).pages()) seen.push(pg.pgno);
    expect(seen).toEqual([]);
  });

  it('round-trips through LtxFile: header, pages and trailer', async () => {
    const h = hdr({ minTXID: 4, maxTXID: 9, commit: 100, walOffset: 32, walSize: 4120, walSalt1: 1, walSalt2: 2, nodeID: 77n });
    const input: Array<[number, Buffer]> = [
      [3, page(3)],
      [50, page(50)],
      [100, page(100)],
    ];
    const { buf } = await encode(h, input);
    const f = LtxFile.open(buf);
    expect(f.header).toEqual(h);
    const out: Array<[number, Buffer]> = [];
    for await (const p of f.pages()) out.push([p.pgno, p.data]);
    expect(out.map(([n]) => n)).toEqual([3, 50, 100]);
    for (const [i, [, d]] of input.entries()) expect(out[i]![1].equals(d)).toBe(true);
  });
});

describe('LtxEncoder guards', () => {
  it('refuses an invalid header before producing any bytes', async () => {
    await expect(LtxEncoder.create(hdr({ pageSize: 1000 }))).rejects.toThrow(LtxFormatError);
    await expect(LtxEncoder.create(hdr({ minTXID: 5, maxTXID: 4 }))).rejects.toThrow(/out of order/);
  });

  it('enforces header, pages, finish order', async () => {
    const enc = await LtxEncoder.create(hdr({ minTXID: 2, maxTXID: 2 }));
    expect(() => enc.encodePage(1, page(1))).toThrow(/state header/);
    expect(() => enc.finish()).toThrow(/state header/);
    enc.begin();
    expect(() => enc.begin()).toThrow(/already written/);
    enc.encodePage(1, page(1));
    enc.finish();
    expect(() => enc.encodePage(2, page(2))).toThrow(/state closed/);
    expect(() => enc.finish()).toThrow(/state closed/);
  });

  it('snapshot pages must start at 1', async () => {
    const enc = await LtxEncoder.create(hdr());
    enc.begin();
    expect(() => enc.encodePage(2, page(2))).toThrow(/contiguous: 0 then 2/);
  });

  it('snapshot pages must be contiguous', async () => {
    const enc = await LtxEncoder.create(hdr({ commit: 5 }));
    enc.begin();
    enc.encodePage(1, page(1));
    expect(() => enc.encodePage(3, page(3))).toThrow(/contiguous: 1 then 3/);
    expect(() => enc.encodePage(1, page(1))).toThrow(LtxFormatError);
    // A refused page leaves the encoder usable.
    enc.encodePage(2, page(2));
    expect(enc.pageCount).toBe(2);
  });

  it('a snapshot must hold every page up to commit', async () => {
    const enc = await LtxEncoder.create(hdr({ commit: 3 }));
    enc.begin();
    enc.encodePage(1, page(1));
    enc.encodePage(2, page(2));
    expect(() => enc.finish()).toThrow(/ends at page 2, database has 3/);
  });

  it('incremental pages must ascend strictly', async () => {
    const enc = await LtxEncoder.create(hdr({ minTXID: 3, maxTXID: 3, commit: 10 }));
    enc.begin();
    enc.encodePage(5, page(5));
    expect(() => enc.encodePage(3, page(3))).toThrow(/out of order: 5 then 3/);
    expect(() => enc.encodePage(5, page(5))).toThrow(/out of order: 5 then 5/);
    enc.encodePage(9, page(9));
  });

  it('a page above commit, page 0 and a page of the wrong size are refused', async () => {
    const enc = await LtxEncoder.create(hdr({ minTXID: 3, maxTXID: 3, commit: 10 }));
    enc.begin();
    expect(() => enc.encodePage(11, page(11))).toThrow(/outside database of 10 pages/);
    expect(() => enc.encodePage(0, page(0))).toThrow(/outside database/);
    expect(() => enc.encodePage(4, page(4, 2048))).toThrow(/2048 bytes, expected 4096/);
    expect(enc.pageCount).toBe(0);
  });

  it('never stores the lock page (262145 at 4096 bytes) in an incremental file', async () => {
    const h = hdr({ minTXID: 3, maxTXID: 3, commit: 262146 });
    const enc = await LtxEncoder.create(h);
    const parts = [enc.begin()];
    parts.push(...enc.encodePage(262144, page(262144)));
    expect(() => enc.encodePage(262145, page(262145))).toThrow(/262145 is the lock page/);
    parts.push(...enc.encodePage(262146, page(262146)));
    parts.push(enc.finish());
    const seen: number[] = [];
    for await (const p of LtxFile.open(Buffer.concat(parts)).pages()) seen.push(p.pgno);
    expect(seen).toEqual([262144, 262146]);
  });
});
