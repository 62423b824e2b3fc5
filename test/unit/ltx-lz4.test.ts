import { describe, expect, it, vi } from 'vitest';
import { compressSync, uncompressSync } from 'lz4-napi';
import { compressBlock, decompressBlock, literalBlock, looksIncompressible } from '../../src/ltx/lz4.js';

// The library, counted: the short ways must not call it, every other page must.
vi.mock('lz4-napi', async (importOriginal) => {
  const real = await importOriginal<typeof import('lz4-napi')>();
  return { ...real, compressSync: vi.fn(real.compressSync), uncompressSync: vi.fn(real.uncompressSync) };
});

// A minimal, independent LZ4 *block* decoder (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md).
// It knows nothing of size prefixes or frames, so it proves compressBlock emits a bare block.
function referenceLz4BlockDecode(src: Buffer, outSize: number): Buffer {
  const out = Buffer.alloc(outSize);
  let ip = 0;
  let op = 0;
  const byte = (): number => {
    if (ip >= src.length) throw new Error('input overrun');
    return src[ip++]!;
  };
  while (ip < src.length) {
    const token = byte();
    let lit = token >> 4;
    if (lit === 15) for (let b = 255; b === 255; lit += b) b = byte();
    if (ip + lit > src.length || op + lit > outSize) throw new Error('literal overrun');
    src.copy(out, op, ip, ip + lit);
    ip += lit;
    op += lit;
    if (ip === src.length) break; // the last sequence carries literals only
    const offset = byte() | (byte() << 8);
    if (offset === 0 || offset > op) throw new Error(`bad match offset ${offset}`);
    let len = token & 15;
    if (len === 15) for (let b = 255; b === 255; len += b) b = byte();
    len += 4;
    if (op + len > outSize) throw new Error('match overrun');
    for (let k = 0; k < len; k++, op++) out[op] = out[op - offset]!;
  }
  if (op !== outSize) throw new Error(`decoded ${op} bytes, expected ${outSize}`);
  return out;
}

/** Fills `page` with xorshift32 noise from `seed` (non-zero); returns it. */
function xorshiftFill(page: Buffer, seed: number): Buffer {
  let x = seed;
  for (let i = 0; i < page.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    page[i] = x & 0xff;
  }
  return page;
}

function samplePages(): Array<[string, Buffer]> {
  const zeros = Buffer.alloc(4096);
  const text = Buffer.alloc(4096);
  for (let i = 0; i < text.length; i++) text[i] = 'the quick brown fox '.charCodeAt(i % 20);
  const noise = xorshiftFill(Buffer.alloc(4096), 0x12345678);
  const small = Buffer.from('SQLite format 3\u0000' + 'x'.repeat(496), 'latin1');
  return [
    ['zeros', zeros],
    ['repeating text', text],
    ['incompressible noise', noise],
    ['512-byte page', small],
  ];
}

describe('LZ4 block codec', () => {
  it.each(samplePages())('compressBlock(%s) is a bare LZ4 block that an independent decoder reads back', (_name, page) => {
    const block = compressBlock(page);
    expect(referenceLz4BlockDecode(block, page.length).equals(page)).toBe(true);
    expect(decompressBlock(block, page.length).equals(page)).toBe(true);
  });

  it('compresses a zero page far below its size and stores noise at most slightly larger', () => {
    const [[, zeros], , [, noise]] = samplePages() as [[string, Buffer], [string, Buffer], [string, Buffer]];
    expect(compressBlock(zeros).length).toBeLessThan(64);
    const n = compressBlock(noise).length;
    // LZ4 worst case: size + size/255 + 16.
    expect(n).toBeGreaterThanOrEqual(4096);
    expect(n).toBeLessThanOrEqual(4096 + Math.floor(4096 / 255) + 16);
  });

  it('decodes a hand-written block: literal "ab" then a 10-byte match at offset 2', () => {
    // token 0x26: 2 literals, match length 6+4 = 10; offset 2 little-endian; then a final literal "!".
    const block = Buffer.from([0x26, 0x61, 0x62, 0x02, 0x00, 0x10, 0x21]);
    expect(decompressBlock(block, 13).toString('latin1')).toBe('abababababab!');
  });

  it('rejects a block that decodes to a different size than the page', () => {
    const page = Buffer.alloc(4096, 7);
    const block = compressBlock(page);
    expect(() => decompressBlock(block, 8192)).toThrow();
    expect(() => decompressBlock(block, 1024)).toThrow();
  });

  it('rejects a block whose match offset points before the start of the output', () => {
    // 1 literal, then a match at offset 5 when only 1 byte exists.
    const block = Buffer.from([0x10, 0x61, 0x05, 0x00, 0x10, 0x21]);
    expect(() => decompressBlock(block, 6)).toThrow();
  });

  it('rejects a truncated block', () => {
    const page = samplePages()[1]![1];
    const block = compressBlock(page);
    expect(() => decompressBlock(block.subarray(0, block.length - 3), page.length)).toThrow();
  });

  it('decodes blocks of every size one after another exactly (nothing of a larger block before it leaks in)', () => {
    // Noise (a large block), then a zero page (a tiny block), then a 64 KiB noise page (larger than
    // any before), then the tiny one again, then a truncated small block after the large ones.
    const noise = Buffer.alloc(4096);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const big = Buffer.alloc(65536);
    for (let i = 0; i < big.length; i++) big[i] = (i * 40503 + 7) >>> 9;
    const zero = Buffer.alloc(4096);
    for (const page of [noise, zero, big, zero, noise]) {
      expect(decompressBlock(compressBlock(page), page.length).equals(page)).toBe(true);
    }
    const small = compressBlock(zero);
    expect(() => decompressBlock(small.subarray(0, small.length - 1), zero.length)).toThrow();
  });

  it('stores a page of noise as the literal run lz4-napi itself makes of it, without calling it', () => {
    const noise = samplePages()[2]![1];
    expect(looksIncompressible(noise)).toBe(true);
    vi.mocked(compressSync).mockClear();
    const block = compressBlock(noise);
    expect(compressSync).not.toHaveBeenCalled();
    // The library's own output for the same page (after its 4-byte size prefix) is the same bytes.
    expect(block.equals(compressSync(noise).subarray(4))).toBe(true);
    expect(block.length).toBe(1 + 17 + 4096);
    expect(referenceLz4BlockDecode(block, 4096).equals(noise)).toBe(true);
  });

  it('sends every page that is not random-looking to the compressor', () => {
    const [[, zeros], [, text], [, noise], [, small]] = samplePages() as Array<[string, Buffer]>;
    const utf8 = Buffer.alloc(4096);
    utf8.write('Ελληνικά 中文新闻 русский текст '.repeat(200), 'utf8');
    // Random bytes with a twentieth of the page zeroed (a cell's free space): LZ4 gains on it.
    const mostlyNoise = Buffer.from(noise);
    mostlyNoise.fill(0, 1000, 1205);
    const halfNoise = Buffer.from(noise);
    halfNoise.fill(0, 2048);
    for (const page of [zeros!, text!, small!, utf8, mostlyNoise, halfNoise]) {
      expect(looksIncompressible(page)).toBe(false);
      vi.mocked(compressSync).mockClear();
      const block = compressBlock(page);
      expect(compressSync).toHaveBeenCalledTimes(1);
      expect(block.equals(compressSync(page).subarray(4))).toBe(true);
    }
  });

  it.each([0, 1, 14, 15, 16, 269, 270, 271, 4096, 65536])('literalBlock of %i bytes is a block the independent decoder and decompressBlock read back', (n) => {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = (i * 2654435761) >>> 24;
    const block = literalBlock(data);
    expect(referenceLz4BlockDecode(block, n).equals(data)).toBe(true);
    if (n > 0) expect(decompressBlock(block, n).equals(data)).toBe(true);
  });

  it('reads a literal run into a buffer of its own without the library, and sends a run of the wrong length to the library, which refuses it', () => {
    const data = Buffer.from(samplePages()[2]![1]);
    const block = literalBlock(data);
    vi.mocked(uncompressSync).mockClear();
    const out = decompressBlock(block, data.length);
    expect(uncompressSync).not.toHaveBeenCalled();
    block.fill(0);
    expect(out.equals(data)).toBe(true);
    expect(() => decompressBlock(literalBlock(data), data.length - 1)).toThrow();
    expect(() => decompressBlock(Buffer.concat([literalBlock(data), Buffer.from([0])]), data.length)).toThrow();
    // A run cut short inside its length bytes.
    expect(() => decompressBlock(literalBlock(data).subarray(0, 5), data.length)).toThrow();
  });

  it('judges nearly every page of random bytes incompressible', () => {
    let judged = 0;
    const page = Buffer.alloc(4096);
    for (let seed = 1; seed <= 1000; seed++) {
      if (looksIncompressible(xorshiftFill(page, Math.imul(seed, 0x9e3779b1) >>> 0))) judged++;
    }
    // The rest only take the slower way, through the compressor.
    expect(judged).toBeGreaterThanOrEqual(990);
  });
});
