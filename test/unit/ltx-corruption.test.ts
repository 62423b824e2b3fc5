// Damage to an LTX file must never decode silently into different pages.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM, LtxFormatError } from '../../src/ltx/format.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/ltx/${name}`, import.meta.url));

interface Decoded {
  pages: Array<[number, string]>;
  post: bigint;
  file: bigint;
}

async function decodeAll(buf: Buffer): Promise<Decoded> {
  const f = LtxFile.open(buf);
  const pages: Array<[number, string]> = [];
  const it = f.pages();
  for (;;) {
    const r = await it.next();
    if (r.done) return { pages, post: r.value.postApplyChecksum, file: r.value.fileChecksum };
    pages.push([r.value.pgno, r.value.data.toString('hex')]);
  }
}

async function failure(buf: Buffer): Promise<unknown> {
  try {
    await decodeAll(buf);
    return null;
  } catch (err) {
    return err;
  }
}

/** Byte ranges of the compressed blocks, the only bytes the file checksum does not cover directly. */
function blockRanges(buf: Buffer): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let pos = 100;
  while (buf.readUInt32BE(pos) !== 0) {
    const size = buf.readUInt32BE(pos + 6);
    ranges.push([pos + 10, pos + 10 + size]);
    pos += 10 + size;
  }
  return ranges;
}

async function ourFile(): Promise<Buffer> {
  const enc = await LtxEncoder.create({
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize: 512,
    commit: 6,
    minTXID: 3,
    maxTXID: 4,
    timestamp: 1700000000000,
    preApplyChecksum: 0n,
    walOffset: 32,
    walSize: 536,
    walSalt1: 11,
    walSalt2: 22,
    nodeID: 0n,
  });
  const parts = [enc.begin()];
  for (const pgno of [1, 4, 6]) {
    const data = Buffer.alloc(512);
    for (let i = 0; i < 512; i++) data[i] = (pgno * 31 + i * (i % 7)) & 0xff;
    parts.push(...enc.encodePage(pgno, data));
  }
  parts.push(enc.finish());
  return Buffer.concat(parts);
}

const files: Array<[string, () => Promise<Buffer>]> = [
  ['walship-encoded incremental (512-byte pages)', ourFile],
  ['Go-encoded incr-6-7.ltx', async () => fixture('incr-6-7.ltx')],
  ['Go-encoded snapshot-checksummed-1-1.ltx', async () => fixture('snapshot-checksummed-1-1.ltx')],
];

describe.each(files)('%s', (_name, load) => {
  it('flipping any bit pattern of any single byte outside a compressed block throws LtxFormatError', async () => {
    const good = await load();
    const blocks = blockRanges(good);
    const inBlock = (i: number): boolean => blocks.some(([a, b]) => i >= a && i < b);
    let checked = 0;
    for (let i = 0; i < good.length; i++) {
      if (inBlock(i)) continue;
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Buffer.from(good);
        bad[i]! ^= mask;
        const err = await failure(bad);
        expect(err, `byte ${i} ^ 0x${mask.toString(16)} was accepted`).toBeInstanceOf(LtxFormatError);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3 * 150);
  });

  it('flipping a byte inside a compressed block throws LtxFormatError or decodes to the very same pages', async () => {
    const good = await load();
    const want = await decodeAll(good);
    let thrown = 0;
    for (const [a, b] of blockRanges(good)) {
      for (let i = a; i < b; i++) {
        for (const mask of [0x01, 0x80]) {
          const bad = Buffer.from(good);
          bad[i]! ^= mask;
          const err = await failure(bad);
          if (err === null) {
            expect(await decodeAll(bad), `byte ${i} ^ 0x${mask.toString(16)}`).toEqual(want);
          } else {
            expect(err, `byte ${i}`).toBeInstanceOf(LtxFormatError);
            thrown++;
          }
        }
      }
    }
    expect(thrown).toBeGreaterThan(0);
  });

  it('every truncation throws LtxFormatError', async () => {
    const good = await load();
    for (let n = 0; n < good.length; n++) {
      const err = await failure(good.subarray(0, n));
      expect(err, `truncated to ${n} bytes`).toBeInstanceOf(LtxFormatError);
    }
  });

  it('appended bytes throw LtxFormatError', async () => {
    const good = await load();
    for (const extra of [Buffer.alloc(1), Buffer.alloc(8), Buffer.alloc(16), good.subarray(good.length - 16)]) {
      expect(await failure(Buffer.concat([good, extra]))).toBeInstanceOf(LtxFormatError);
    }
  });

  it('the undamaged file decodes', async () => {
    expect((await decodeAll(await load())).pages.length).toBeGreaterThan(1);
  });
});

describe('targeted damage to a Go-written file', () => {
  // incr-6-7.ltx layout: header 0-99, frame (page 2) at 100 with size field at 106, block 110-155,
  // frame (page 5) at 156, end marker 212, index 218-225, index size 226, trailer 234-249.
  it.each<[string, number, number, RegExp]>([
    ['magic', 0, 0x01, /bad magic/],
    ['header flags', 7, 0x04, /invalid header flags/],
    ['page size', 10, 0x01, /invalid page size/],
    ['commit', 15, 0x01, /^file checksum mismatch$/],
    ['timestamp', 39, 0x01, /^file checksum mismatch$/],
    ['node ID', 79, 0x01, /^file checksum mismatch$/],
    ['page header pgno', 103, 0x01, /index entry for page 3 does not match/],
    ['page header flags', 105, 0x02, /invalid page flags 0x3/],
    ['block size field', 109, 0x01, /page 2: corrupt LZ4 block/],
    ['end marker', 215, 0x01, /legacy LZ4-frame pages/],
    ['page index pgno', 218, 0x01, /index entry for page 2/],
    ['page index offset', 219, 0x01, /index entry for page 2/],
    ['page index size', 233, 0x01, /page index size does not match its position/],
    ['post-apply checksum', 241, 0x01, /^file checksum mismatch$/],
    ['file checksum', 249, 0x01, /^file checksum mismatch$/],
    ['file checksum flag bit', 242, 0x80, /^file checksum mismatch$/],
  ])('damage to the %s (byte %d) is refused', async (_what, at, mask, message) => {
    const bad = Buffer.from(fixture('incr-6-7.ltx'));
    bad[at]! ^= mask;
    const err = await failure(bad);
    expect(err).toBeInstanceOf(LtxFormatError);
    expect((err as Error).message).toMatch(message);
  });
});
