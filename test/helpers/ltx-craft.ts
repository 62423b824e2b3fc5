// Hostile LTX files for restore tests: contents a checksum cannot catch. Each keeps a valid file
// checksum, so only the checks on what a header claims can refuse it.
import { createCrc64 } from '../../src/ltx/crc64.js';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { CHECKSUM_FLAG, HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, type LtxHeader } from '../../src/ltx/format.js';

/** Recomputes the file checksum (the last 8 bytes) of a file with no pages (the sum covers pages uncompressed). */
export async function reseal(buf: Buffer): Promise<Buffer> {
  const crc = await createCrc64();
  crc.update(buf.subarray(0, buf.length - 8));
  buf.writeBigUInt64BE(CHECKSUM_FLAG | crc.digest(), buf.length - 8);
  return buf;
}

/** A real file re-encoded with some header fields changed: same pages, a valid checksum. */
export async function patchHeader(buf: Buffer, fields: Partial<Pick<LtxHeader, 'commit' | 'minTXID' | 'maxTXID'>>): Promise<Buffer> {
  const src = LtxFile.open(buf);
  const enc = await LtxEncoder.create({ ...src.header, ...fields });
  const out: Buffer[] = [enc.begin()];
  for await (const p of src.pages()) out.push(...enc.encodePage(p.pgno, p.data));
  out.push(enc.finish());
  return Buffer.concat(out);
}

/** A file with no pages at all and the given commit size, written byte by byte (the encoder refuses commit 0). */
export async function emptyLtx(minTXID: number, maxTXID: number, commit: number, pageSize = 4096): Promise<Buffer> {
  const head = Buffer.alloc(HEADER_SIZE);
  head.write('LTX1', 0, 'latin1');
  head.writeUInt32BE(HEADER_FLAG_NO_CHECKSUM, 4);
  head.writeUInt32BE(pageSize, 8);
  head.writeUInt32BE(commit, 12);
  head.writeBigUInt64BE(BigInt(minTXID), 16);
  head.writeBigUInt64BE(BigInt(maxTXID), 24);
  head.writeBigInt64BE(BigInt(Date.now()), 32);
  // end of pages (6 zero bytes), an empty index (its 0 terminator), the index size, the trailer
  const indexSize = Buffer.alloc(8);
  indexSize.writeBigUInt64BE(1n);
  return reseal(Buffer.concat([head, Buffer.alloc(6), Buffer.from([0]), indexSize, Buffer.alloc(16)]));
}
