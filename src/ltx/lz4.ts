// LZ4 block (not frame) compression, as LTX v3 page frames use it.
import { compressSync, uncompressSync } from 'lz4-napi';

// lz4-napi frames a block with a 4-byte little-endian uncompressed size; LTX stores the bare block.
const SIZE_PREFIX = 4;

export function compressBlock(data: Buffer): Buffer {
  return compressSync(data).subarray(SIZE_PREFIX);
}

/**
 * Where a block is framed for lz4-napi: one buffer for every call (the decompression is synchronous
 * and copies out), grown when a larger block comes. A fresh one per page was a restore's largest
 * allocation: 516 MB of them for a 512 MB database, and a good share of its garbage collection.
 */
let scratch = Buffer.allocUnsafe(0);

export function decompressBlock(block: Buffer, size: number): Buffer {
  const need = block.length + SIZE_PREFIX;
  if (scratch.length < need) scratch = Buffer.allocUnsafeSlow(Math.max(need, 64 * 1024));
  scratch.writeUInt32LE(size, 0);
  block.copy(scratch, SIZE_PREFIX);
  const out = uncompressSync(scratch.subarray(0, need));
  if (out.length !== size) throw new Error(`LZ4 block decoded to ${out.length} bytes, expected ${size}`);
  return out;
}
