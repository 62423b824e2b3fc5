// LZ4 block (not frame) compression, as LTX v3 page frames use it.
//
// Incompressible pages (random-looking bytes: encrypted or already-compressed blobs) skip the
// library both ways. LZ4 stores such a page as one run of literals, a little larger than the page;
// lz4-napi took about 20 µs to find that out for a 4 KiB page of noise (a text page: 3 µs), and
// about 4 µs to copy one back out (mostly the cost of the call). Here a page that looks random is
// written as that literal run directly, and a block that is one literal run is read back by
// copying its bytes. Both are plain LZ4 blocks: any decoder reads them, and this one reads any
// block (those it cannot take the short way go to the library).
import { compressSync, uncompressSync } from 'lz4-napi';

// lz4-napi frames a block with a 4-byte little-endian uncompressed size; LTX stores the bare block.
const SIZE_PREFIX = 4;

/**
 * Bytes sampled to judge a page (one every SAMPLE_STRIDE: odd, so no power-of-two layout aliases).
 * Pages smaller than the sample's span (3,840 bytes: page sizes up to 2048) always go to the library.
 */
const SAMPLE_BYTES = 256;
const SAMPLE_STRIDE = 15;
/**
 * A page counts as random when its sample has at least RANDOM_DISTINCT distinct byte values and
 * none of them more than RANDOM_MOST times. Uniformly random bytes give about 162 distinct values
 * (256 draws of 256 values; a standard deviation of about 4.5), and the most frequent one 5 or 6
 * times (more than 8 once in a few thousand pages). Text has at most the hundred or so printable
 * values, and a page with even a twentieth of zeros or of one repeated byte shows a dozen of them.
 * LZ4 would gain little on the pages that pass; a page judged wrongly is only stored larger than
 * LZ4 would have made it, never wrong.
 */
const RANDOM_DISTINCT = 150;
const RANDOM_MOST = 8;
const counts = new Uint8Array(256);

/** True when a sample of `data` spreads over the byte values as random bytes do. */
export function looksIncompressible(data: Uint8Array): boolean {
  if (data.length < SAMPLE_BYTES * SAMPLE_STRIDE) return false;
  counts.fill(0);
  let distinct = 0;
  for (let i = 0, p = 0; i < SAMPLE_BYTES; i++, p += SAMPLE_STRIDE) {
    const c = ++counts[data[p]!]!;
    if (c > RANDOM_MOST) return false;
    if (c === 1) distinct++;
  }
  return distinct >= RANDOM_DISTINCT;
}

/** `data` as an LZ4 block holding one run of literals (the last sequence of a block carries no match). */
export function literalBlock(data: Buffer): Buffer {
  const n = data.length;
  const lengthBytes = n >= 15 ? Math.floor((n - 15) / 255) + 1 : 0;
  const out = Buffer.allocUnsafe(1 + lengthBytes + n);
  out[0] = Math.min(n, 15) << 4;
  let p = 1;
  if (n >= 15) {
    let rest = n - 15;
    for (; rest >= 255; rest -= 255) out[p++] = 255;
    out[p++] = rest;
  }
  data.copy(out, p);
  return out;
}

export function compressBlock(data: Buffer): Buffer {
  if (looksIncompressible(data)) return literalBlock(data);
  return compressSync(data).subarray(SIZE_PREFIX);
}

/** Where the literals of a block that is one literal run of `size` bytes start; -1 for any other block. */
function literalRunStart(block: Buffer, size: number): number {
  if (block.length === 0) return -1;
  let n = block[0]! >> 4;
  let p = 1;
  if (n === 15) {
    for (let b = 255; b === 255; n += b) {
      if (p >= block.length) return -1;
      b = block[p++]!;
    }
  }
  return n === size && p + n === block.length ? p : -1;
}

/**
 * Where a block is framed for lz4-napi: one buffer for every call (the decompression is synchronous
 * and copies out), grown when a larger block comes. A fresh one per page was a restore's largest
 * allocation: 516 MB of them for a 512 MB database, and a good share of its garbage collection.
 */
let scratch = Buffer.allocUnsafe(0);

/** The `size` bytes `block` decodes to, in a buffer of their own (the block's may be reused). */
export function decompressBlock(block: Buffer, size: number): Buffer {
  const start = literalRunStart(block, size);
  if (start >= 0) {
    const out = Buffer.allocUnsafe(size);
    block.copy(out, 0, start);
    return out;
  }
  const need = block.length + SIZE_PREFIX;
  if (scratch.length < need) scratch = Buffer.allocUnsafeSlow(Math.max(need, 64 * 1024));
  scratch.writeUInt32LE(size, 0);
  block.copy(scratch, SIZE_PREFIX);
  const out = uncompressSync(scratch.subarray(0, need));
  if (out.length !== size) throw new Error(`LZ4 block decoded to ${out.length} bytes, expected ${size}`);
  return out;
}
