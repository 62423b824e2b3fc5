// LZ4 block (not frame) compression, as LTX v3 page frames use it.
import { compressSync, uncompressSync } from 'lz4-napi';

// lz4-napi frames a block with a 4-byte little-endian uncompressed size; LTX stores the bare block.
const SIZE_PREFIX = 4;

export function compressBlock(data: Buffer): Buffer {
  return compressSync(data).subarray(SIZE_PREFIX);
}

export function decompressBlock(block: Buffer, size: number): Buffer {
  const framed = Buffer.allocUnsafe(block.length + SIZE_PREFIX);
  framed.writeUInt32LE(size, 0);
  block.copy(framed, SIZE_PREFIX);
  const out = uncompressSync(framed);
  if (out.length !== size) throw new Error(`LZ4 block decoded to ${out.length} bytes, expected ${size}`);
  return out;
}
