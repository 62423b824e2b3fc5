// The decoder's structural checks, each exercised with a file whose checksum is correct, so that
// only the check under test can refuse it.
import { describe, expect, it } from 'vitest';
import { createCrc64 } from '../../src/ltx/crc64.js';
import { LtxFile, LtxStream, peekLtxHeader } from '../../src/ltx/decoder.js';
import { CHECKSUM_FLAG, encodeHeader, HEADER_FLAG_NO_CHECKSUM, LtxFormatError, type LtxHeader } from '../../src/ltx/format.js';
import { compressBlock } from '../../src/ltx/lz4.js';
import { appendUvarint } from '../../src/ltx/varint.js';

const PAGE = 1024;

function hdr(over: Partial<LtxHeader> = {}): LtxHeader {
  return {
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize: PAGE,
    commit: 10,
    minTXID: 5,
    maxTXID: 5,
    timestamp: 1,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
    ...over,
  };
}

function page(pgno: number): Buffer {
  const b = Buffer.alloc(PAGE, pgno & 0xff);
  b.writeUInt32BE(pgno, 0);
  return b;
}

interface Frame {
  pgno: number;
  flags?: number;
  data?: Buffer;
  block?: Buffer;
}

interface BuildOptions {
  /** Replace the page index entries. */
  index?: Array<[number, number, number]>;
  /** Bytes appended to the index before its 0 terminator. */
  indexExtra?: number[];
  /** Override the index size field. */
  indexSize?: bigint;
  post?: bigint;
  /** Bytes after the trailer. */
  tail?: Buffer;
}

/** Writes an LTX file by hand with a correct file checksum, whatever its structure. */
async function build(h: LtxHeader, frames: Frame[], o: BuildOptions = {}): Promise<Buffer> {
  const crc = await createCrc64();
  const out: Buffer[] = [];
  let n = 0;
  const put = (b: Buffer, hash: Buffer | null = b): void => {
    out.push(b);
    n += b.length;
    if (hash) crc.update(hash);
  };
  const head = encodeHeader({ ...h, flags: 0, preApplyChecksum: CHECKSUM_FLAG, minTXID: 2, maxTXID: 2, commit: 1 });
  // encodeHeader validates; write the fields the test wants without that.
  head.writeUInt32BE(h.flags, 4);
  head.writeUInt32BE(h.pageSize, 8);
  head.writeUInt32BE(h.commit, 12);
  head.writeBigUInt64BE(BigInt(h.minTXID), 16);
  head.writeBigUInt64BE(BigInt(h.maxTXID), 24);
  head.writeBigUInt64BE(h.preApplyChecksum, 40);
  put(head);
  const index: Array<[number, number, number]> = [];
  for (const f of frames) {
    const start = n;
    const ph = Buffer.alloc(10);
    ph.writeUInt32BE(f.pgno, 0);
    ph.writeUInt16BE(f.flags ?? 1, 4);
    const data = f.data ?? page(f.pgno);
    const block = f.block ?? compressBlock(data);
    ph.writeUInt32BE(block.length, 6);
    put(ph);
    put(block, data);
    index.push([f.pgno, start, n - start]);
  }
  put(Buffer.alloc(6));
  const ib: number[] = [];
  for (const [a, b, c] of o.index ?? index) {
    appendUvarint(ib, a);
    appendUvarint(ib, b);
    appendUvarint(ib, c);
  }
  ib.push(...(o.indexExtra ?? []));
  appendUvarint(ib, 0);
  put(Buffer.from(ib));
  const size = Buffer.alloc(8);
  size.writeBigUInt64BE(o.indexSize ?? BigInt(ib.length));
  put(size);
  const post = Buffer.alloc(8);
  post.writeBigUInt64BE(o.post ?? 0n);
  put(post);
  const file = Buffer.alloc(8);
  file.writeBigUInt64BE(CHECKSUM_FLAG | crc.digest());
  out.push(file);
  if (o.tail) out.push(o.tail);
  return Buffer.concat(out);
}

async function pgnos(buf: Buffer): Promise<number[]> {
  const seen: number[] = [];
  for await (const p of LtxFile.open(buf).pages()) seen.push(p.pgno);
  return seen;
}

async function refused(buf: Buffer, message: RegExp): Promise<void> {
  let err: unknown;
  try {
    await LtxFile.open(buf).verify();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LtxFormatError);
  expect((err as Error).message).toMatch(message);
}

describe('LtxFile decoding', () => {
  it('the hand builder makes files the decoder accepts', async () => {
    const buf = await build(hdr(), [{ pgno: 2 }, { pgno: 9 }]);
    expect(await pgnos(buf)).toEqual([2, 9]);
  });

  it('peekLtxHeader reads only the first 100 bytes', () => {
    const h = hdr({ minTXID: 3, maxTXID: 8 });
    const head = encodeHeader(h);
    expect(peekLtxHeader(Buffer.concat([head, Buffer.from('not an ltx body')]))).toEqual(h);
  });

  it('yields pages lazily: a defect after page 1 surfaces only after page 1 was yielded', async () => {
    const buf = await build(hdr(), [{ pgno: 2 }, { pgno: 9 }], { post: CHECKSUM_FLAG | 1n });
    const it = LtxFile.open(buf).pages();
    expect((await it.next()).value).toMatchObject({ pgno: 2 });
    expect((await it.next()).value).toMatchObject({ pgno: 9 });
    await expect(it.next()).rejects.toThrow(/post-apply checksum present/);
  });

  it('refuses pages out of order', async () => {
    await refused(await build(hdr(), [{ pgno: 5 }, { pgno: 3 }]), /out of order: 5 then 3/);
  });

  it('refuses a page stored twice', async () => {
    await refused(await build(hdr(), [{ pgno: 5 }, { pgno: 5 }]), /out of order: 5 then 5/);
  });

  it('refuses the lock page', async () => {
    const lock = 0x40000000 / PAGE + 1;
    await refused(await build(hdr({ commit: lock + 5 }), [{ pgno: lock }]), new RegExp(`lock page ${lock} stored`));
  });

  it('refuses a page above the commit size, as Go\'s decoder does', async () => {
    await refused(await build(hdr({ commit: 10 }), [{ pgno: 2 }, { pgno: 11 }]), /page 11 beyond commit size 10/);
  });

  it('refuses page number 0 with flags set', async () => {
    await refused(await build(hdr(), [{ pgno: 0, flags: 1 }]), /page number 0/);
  });

  it('refuses unknown page flags', async () => {
    await refused(await build(hdr(), [{ pgno: 2, flags: 3 }]), /invalid page flags 0x3/);
  });

  it('refuses legacy LZ4-frame pages (size flag clear)', async () => {
    await refused(await build(hdr(), [{ pgno: 2, flags: 0 }]), /legacy/);
  });

  it('refuses a block that does not decode to a full page', async () => {
    const half = compressBlock(Buffer.alloc(PAGE / 2, 1));
    await refused(await build(hdr(), [{ pgno: 2, block: half, data: Buffer.alloc(PAGE / 2, 1) }]), /page 2: corrupt LZ4 block/);
  });

  it('refuses garbage in place of an LZ4 block', async () => {
    const junk = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01, 0x02]);
    await refused(await build(hdr(), [{ pgno: 2, block: junk }]), /corrupt LZ4 block/);
  });

  it('refuses a page index entry that disagrees with the frame', async () => {
    await refused(await build(hdr(), [{ pgno: 2 }], { index: [[2, 101, 20]] }), /index entry for page 2/);
    await refused(await build(hdr(), [{ pgno: 2 }, { pgno: 3 }], { index: [[3, 100, 20]] }), /index entry for page 2/);
  });

  it('refuses extra page index entries', async () => {
    await refused(await build(hdr(), [{ pgno: 2 }], { indexExtra: [7, 1, 1] }), /extra entries/);
  });

  it('refuses a page index size that does not match the index', async () => {
    await refused(await build(hdr(), [{ pgno: 2 }], { indexSize: 99n }), /index size/);
  });

  it('refuses bytes after the trailer', async () => {
    await refused(await build(hdr(), [{ pgno: 2 }], { tail: Buffer.from([0]) }), /data after the trailer/);
  });

  it('refuses a header with commit size 0: no database has zero pages', async () => {
    const buf = await build(hdr({ minTXID: 1, commit: 0 }), []);
    expect(() => LtxFile.open(buf)).toThrow(/commit size 0/);
  });

  it('reads a padded stream only up to the trailer (a sparse file is not read into memory)', async () => {
    const buf = await build(hdr(), [{ pgno: 2 }]);
    let pulled = 0;
    const chunk = Buffer.alloc(64 * 1024);
    async function* source(): AsyncGenerator<Buffer> {
      yield buf;
      // 1 GiB of zeros after the trailer, offered a chunk at a time
      for (let i = 0; i < 16384; i++) {
        pulled++;
        yield chunk;
      }
    }
    const s = await LtxStream.open(source());
    await expect(s.verify()).rejects.toThrow(/data after the trailer/);
    await s.close();
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('stops at the first bad index entry of a file whose pages are followed by zeros', async () => {
    const good = await build(hdr(), [{ pgno: 2 }]);
    // Header and the page frame, then zeros where the end marker, index and trailer should be.
    const frameEnd = good.length - 16 - 8 - Number(good.readBigUInt64BE(good.length - 24)) - 6;
    let pulled = 0;
    async function* source(): AsyncGenerator<Buffer> {
      yield good.subarray(0, frameEnd);
      for (let i = 0; i < 16384; i++) {
        pulled++;
        yield Buffer.alloc(64 * 1024);
      }
    }
    const s = await LtxStream.open(source());
    await expect(s.verify()).rejects.toThrow(/page index entry for page 2/);
    await s.close();
    expect(pulled).toBeLessThanOrEqual(2);
  });

  it('refuses a post-apply checksum in a file flagged as checksum-free', async () => {
    await refused(await build(hdr(), [{ pgno: 2 }], { post: CHECKSUM_FLAG | 5n }), /post-apply checksum present/);
  });

  it('accepts a post-apply checksum when checksums are tracked', async () => {
    const buf = await build(hdr({ flags: 0, preApplyChecksum: CHECKSUM_FLAG | 9n }), [{ pgno: 2 }], { post: CHECKSUM_FLAG | 5n });
    await expect(LtxFile.open(buf).verify()).resolves.toMatchObject({ postApplyChecksum: CHECKSUM_FLAG | 5n });
  });

  it('refuses a snapshot that misses a page', async () => {
    await refused(await build(hdr({ minTXID: 1, commit: 3 }), [{ pgno: 1 }, { pgno: 3 }]), /snapshot holds 2 pages, database has 3/);
  });

  it('refuses a snapshot that stops short of commit', async () => {
    await refused(await build(hdr({ minTXID: 1, commit: 3 }), [{ pgno: 1 }, { pgno: 2 }]), /snapshot holds 2 pages, database has 3/);
  });

  it('accepts a complete snapshot from the hand builder', async () => {
    expect(await pgnos(await build(hdr({ minTXID: 1, commit: 3 }), [{ pgno: 1 }, { pgno: 2 }, { pgno: 3 }]))).toEqual([1, 2, 3]);
  });

  it('refuses a file whose checksum lacks bit 63', async () => {
    const buf = await build(hdr(), [{ pgno: 2 }]);
    buf.writeBigUInt64BE(buf.readBigUInt64BE(buf.length - 8) & ~CHECKSUM_FLAG, buf.length - 8);
    await refused(buf, /checksum mismatch/);
  });

  it('refuses a page index varint above 2^53 as a format error', async () => {
    const huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    await refused(await build(hdr(), [], { indexExtra: huge }), /page index/);
    await refused(await build(hdr(), [{ pgno: 2 }], { index: [[2, 100, 20]], indexExtra: huge }), /page index/);
  });

  it('refuses a page index varint with more than 10 continuation bytes as a format error', async () => {
    await refused(await build(hdr(), [], { indexExtra: new Array<number>(11).fill(0x80) }), /page index/);
  });

  it('accepts a non-minimal varint for the index terminator, as Go does', async () => {
    expect(await pgnos(await build(hdr(), [], { indexExtra: [0x80, 0x80] }))).toEqual([]);
  });
});

