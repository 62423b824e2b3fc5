import { describe, expect, it } from 'vitest';
import {
  FrameChecker,
  parseFrameHeader,
  parseWalHeader,
  verifyFrame,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  walChecksum,
  type RunningChecksum,
  type WalHeader,
} from '../../src/sqlite/wal-format.js';

// Independent restatement of SQLite's walChecksumBytes (wal.c), word order chosen by the caller.
function referenceChecksum(bigEndian: boolean, data: Buffer, from: RunningChecksum): RunningChecksum {
  let s1 = from.s1;
  let s2 = from.s2;
  for (let i = 0; i < data.length; i += 8) {
    const x0 = bigEndian ? data.readUInt32BE(i) : data.readUInt32LE(i);
    const x1 = bigEndian ? data.readUInt32BE(i + 4) : data.readUInt32LE(i + 4);
    s1 = (s1 + x0 + s2) % 2 ** 32;
    s2 = (s2 + x1 + s1) % 2 ** 32;
  }
  return { s1, s2 };
}

/** A synthetic WAL: header plus frames, checksummed in the order the magic selects. */
function buildWal(bigEndian: boolean, pageSize: number, frames: Array<{ pgno: number; commit: number; fill: number }>) {
  const header = Buffer.alloc(WAL_HEADER_SIZE);
  header.writeUInt32BE(bigEndian ? 0x377f0683 : 0x377f0682, 0);
  header.writeUInt32BE(3007000, 4);
  header.writeUInt32BE(pageSize, 8);
  header.writeUInt32BE(7, 12); // checkpoint sequence
  header.writeUInt32BE(0x9abcdef0, 16);
  header.writeUInt32BE(0x13579bdf, 20);
  let ck = referenceChecksum(bigEndian, header.subarray(0, 24), { s1: 0, s2: 0 });
  header.writeUInt32BE(ck.s1, 24);
  header.writeUInt32BE(ck.s2, 28);
  const out = [header];
  for (const f of frames) {
    const frame = Buffer.alloc(WAL_FRAME_HEADER_SIZE + pageSize);
    frame.writeUInt32BE(f.pgno, 0);
    frame.writeUInt32BE(f.commit, 4);
    header.copy(frame, 8, 16, 24); // salts
    for (let i = WAL_FRAME_HEADER_SIZE; i < frame.length; i++) frame[i] = (f.fill + i * 13) & 0xff;
    ck = referenceChecksum(bigEndian, frame.subarray(0, 8), ck);
    ck = referenceChecksum(bigEndian, frame.subarray(WAL_FRAME_HEADER_SIZE), ck);
    frame.writeUInt32BE(ck.s1, 16);
    frame.writeUInt32BE(ck.s2, 20);
    out.push(frame);
  }
  return Buffer.concat(out);
}

function walkFrames(wal: Buffer, h: WalHeader): Array<{ pgno: number; commit: number }> {
  const out: Array<{ pgno: number; commit: number }> = [];
  let ck: RunningChecksum = { s1: h.checksum1, s2: h.checksum2 };
  const frameSize = WAL_FRAME_HEADER_SIZE + h.pageSize;
  for (let off = WAL_HEADER_SIZE; off + frameSize <= wal.length; off += frameSize) {
    const r = verifyFrame(h, wal.subarray(off, off + frameSize), ck);
    if (!r) break;
    out.push({ pgno: r.frame.pgno, commit: r.frame.commit });
    ck = r.checksum;
  }
  return out;
}

describe('walChecksum', () => {
  it('computes SQLite\'s sums by hand on big-endian words', () => {
    const data = Buffer.from([0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    // s1 = 0+1+0 = 1, s2 = 0+2+1 = 3; then s1 = 1+3+3 = 7, s2 = 3+4+7 = 14.
    expect(walChecksum(true, data.subarray(0, 8), { s1: 0, s2: 0 })).toEqual({ s1: 1, s2: 3 });
    expect(walChecksum(true, data, { s1: 0, s2: 0 })).toEqual({ s1: 7, s2: 14 });
  });

  it('reads the same bytes as little-endian words when asked', () => {
    const data = Buffer.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    expect(walChecksum(false, data, { s1: 0, s2: 0 })).toEqual({ s1: 7, s2: 14 });
    expect(walChecksum(true, data, { s1: 0, s2: 0 })).toEqual({ s1: 0x07000000, s2: 0x0e000000 });
  });

  it('wraps at 2^32', () => {
    const data = Buffer.alloc(8, 0xff);
    expect(walChecksum(true, data, { s1: 0, s2: 0 })).toEqual({ s1: 0xffffffff, s2: 0xfffffffe });
    expect(walChecksum(false, data, { s1: 5, s2: 6 })).toEqual({ s1: (5 + 0xffffffff + 6) % 2 ** 32, s2: (6 + 0xffffffff + 10) % 2 ** 32 });
  });

  it('continues from a running checksum exactly as hashing everything at once', () => {
    const data = Buffer.alloc(4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 97) & 0xff;
    for (const be of [true, false]) {
      const once = walChecksum(be, data, { s1: 1, s2: 2 });
      const half = walChecksum(be, data.subarray(0, 1024), { s1: 1, s2: 2 });
      expect(walChecksum(be, data.subarray(1024), half)).toEqual(once);
      expect(once).toEqual(referenceChecksum(be, data, { s1: 1, s2: 2 }));
    }
  });

  it('gives the same answer on buffers that are not 4-byte aligned', () => {
    const backing = Buffer.alloc(4096 + 3);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff;
    for (const shift of [1, 2, 3]) {
      const view = backing.subarray(shift, shift + 4096);
      const copy = Buffer.from(view);
      expect(walChecksum(false, view, { s1: 0, s2: 0 })).toEqual(referenceChecksum(false, copy, { s1: 0, s2: 0 }));
    }
  });

  it('refuses input that is not a multiple of 8 bytes', () => {
    expect(() => walChecksum(false, Buffer.alloc(12), { s1: 0, s2: 0 })).toThrow(/multiple of 8/);
  });
});

describe('parseWalHeader', () => {
  it('reads a little-endian-checksum header', () => {
    const wal = buildWal(false, 4096, []);
    expect(parseWalHeader(wal)).toEqual({
      bigEndianChecksum: false,
      pageSize: 4096,
      checkpointSeq: 7,
      salt1: 0x9abcdef0,
      salt2: 0x13579bdf,
      checksum1: wal.readUInt32BE(24),
      checksum2: wal.readUInt32BE(28),
    });
  });

  it('reads a big-endian-checksum header (magic 0x377f0683)', () => {
    const wal = buildWal(true, 1024, []);
    expect(parseWalHeader(wal)).toMatchObject({ bigEndianChecksum: true, pageSize: 1024, salt1: 0x9abcdef0 });
  });

  it('the two magics give different header checksums for the same fields', () => {
    const le = buildWal(false, 4096, []);
    const be = buildWal(true, 4096, []);
    expect(le.subarray(24, 32).equals(be.subarray(24, 32))).toBe(false);
    // A header checksummed one way but labelled the other is refused.
    const swapped = Buffer.from(be);
    swapped.writeUInt32BE(0x377f0682, 0);
    expect(parseWalHeader(swapped)).toBeNull();
  });

  it('accepts 65536-byte pages', () => {
    expect(parseWalHeader(buildWal(false, 65536, []))?.pageSize).toBe(65536);
  });

  it.each<[string, (b: Buffer) => Buffer]>([
    ['a short buffer', (b) => b.subarray(0, 31)],
    ['all zeros', (b) => Buffer.alloc(b.length)],
    ['a wrong magic', (b) => (b.writeUInt32BE(0x377f0684, 0), b)],
    ['a page size that is not a power of two', (b) => (b.writeUInt32BE(4000, 8), b)],
    ['a flipped salt byte', (b) => ((b[17]! ^= 1), b)],
    ['a flipped checksum byte', (b) => ((b[31]! ^= 1), b)],
  ])('returns null for %s', (_what, damage) => {
    expect(parseWalHeader(damage(Buffer.from(buildWal(false, 4096, []))))).toBeNull();
  });
});

describe('verifyFrame', () => {
  for (const bigEndian of [false, true]) {
    describe(bigEndian ? 'big-endian checksums' : 'little-endian checksums', () => {
      const frames = [
        { pgno: 1, commit: 0, fill: 1 },
        { pgno: 2, commit: 3, fill: 2 },
        { pgno: 3, commit: 0, fill: 3 },
        { pgno: 1, commit: 3, fill: 4 },
      ];

      it('accepts the whole chain and reports page numbers and commit sizes', () => {
        const wal = buildWal(bigEndian, 512, frames);
        const h = parseWalHeader(wal)!;
        expect(h.bigEndianChecksum).toBe(bigEndian);
        expect(walkFrames(wal, h)).toEqual(frames.map(({ pgno, commit }) => ({ pgno, commit })));
      });

      it('returns the frame header fields and the running checksum it stored', () => {
        const wal = buildWal(bigEndian, 512, frames);
        const h = parseWalHeader(wal)!;
        const frame = wal.subarray(32, 32 + 24 + 512);
        const r = verifyFrame(h, frame, { s1: h.checksum1, s2: h.checksum2 })!;
        expect(r.frame).toEqual(parseFrameHeader(frame));
        expect(r.frame).toMatchObject({ pgno: 1, commit: 0, salt1: 0x9abcdef0, salt2: 0x13579bdf });
        expect(r.checksum).toEqual({ s1: frame.readUInt32BE(16), s2: frame.readUInt32BE(20) });
      });

      it('a flipped page byte stops the chain at that frame', () => {
        const wal = buildWal(bigEndian, 512, frames);
        wal[32 + 2 * (24 + 512) + 24 + 100]! ^= 0x40; // third frame's page
        expect(walkFrames(wal, parseWalHeader(wal)!)).toHaveLength(2);
      });

      it('a flipped pgno stops the chain at that frame (the first 8 header bytes are covered)', () => {
        const wal = buildWal(bigEndian, 512, frames);
        wal[32 + (24 + 512) + 3]! ^= 1; // second frame's pgno
        expect(walkFrames(wal, parseWalHeader(wal)!)).toHaveLength(1);
      });

      it('a frame with other salts is refused even if its checksum matches', () => {
        const wal = buildWal(bigEndian, 512, frames);
        const h = parseWalHeader(wal)!;
        expect(verifyFrame({ ...h, salt1: h.salt1 ^ 1 }, wal.subarray(32, 32 + 536), { s1: h.checksum1, s2: h.checksum2 })).toBeNull();
      });

      it('a frame checked against the wrong running checksum is refused', () => {
        const wal = buildWal(bigEndian, 512, frames);
        const h = parseWalHeader(wal)!;
        const second = wal.subarray(32 + 536, 32 + 2 * 536);
        expect(verifyFrame(h, second, { s1: h.checksum1, s2: h.checksum2 })).toBeNull();
      });
    });
  }
});

describe('FrameChecker', () => {
  const frames = [
    { pgno: 4, commit: 0, fill: 9 },
    { pgno: 5, commit: 6, fill: 8 },
    { pgno: 6, commit: 6, fill: 7 },
  ];
  const frameSize = 24 + 1024;

  for (const bigEndian of [false, true]) {
    for (const shift of [0, 1, 4]) {
      it(`checks frames in place at their offsets (${bigEndian ? 'big' : 'little'}-endian, buffer shifted by ${shift})`, () => {
        const wal = buildWal(bigEndian, 1024, frames);
        const h = parseWalHeader(wal)!;
        const backing = Buffer.alloc(wal.length - 32 + shift);
        wal.copy(backing, shift, 32);
        const buf = backing.subarray(shift);
        const checker = new FrameChecker(h, buf);
        const running = { s1: h.checksum1, s2: h.checksum2 };
        const seen: Array<[number, number]> = [];
        for (let at = 0; at < buf.length; at += frameSize) {
          seen.push([checker.check(at, running), checker.commitAt(at)]);
          expect(running).toEqual({ s1: buf.readUInt32BE(at + 16), s2: buf.readUInt32BE(at + 20) });
        }
        expect(seen).toEqual([[4, 0], [5, 6], [6, 6]]);
      });
    }
  }

  it('refuses a damaged frame, a frame for page 0 and a frame past the buffer, leaving the checksum as it was', () => {
    const wal = buildWal(false, 1024, frames);
    const h = parseWalHeader(wal)!;
    const start = { s1: h.checksum1, s2: h.checksum2 };
    const damaged = Buffer.from(wal.subarray(32));
    damaged[24 + 500]! ^= 1;
    const r1 = { ...start };
    expect(new FrameChecker(h, damaged).check(0, r1)).toBe(0);
    expect(r1).toEqual(start);

    // Page 0 with a checksum that matches: SQLite ends the log there too.
    const zero = buildWal(false, 1024, [{ pgno: 0, commit: 1, fill: 3 }]);
    const hz = parseWalHeader(zero)!;
    const r2 = { s1: hz.checksum1, s2: hz.checksum2 };
    expect(new FrameChecker(hz, zero.subarray(32)).check(0, r2)).toBe(0);
    expect(r2).toEqual({ s1: hz.checksum1, s2: hz.checksum2 });

    const short = wal.subarray(32, 32 + frameSize + 100);
    const r3 = { ...start };
    const checker = new FrameChecker(h, short);
    expect(checker.check(0, r3)).toBe(4);
    const after = { ...r3 };
    expect(checker.check(frameSize, r3)).toBe(0);
    expect(r3).toEqual(after);
  });
});
