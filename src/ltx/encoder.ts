// Builds an LTX file from pages given in page-number order. Pure: it returns the bytes to write
// and leaves the writing (to a file, a socket, memory) to the caller.
import { createCrc64, type Crc64 } from './crc64.js';
import {
  CHECKSUM_FLAG,
  encodeHeader,
  encodePageHeader,
  encodeTrailer,
  isSnapshotHeader,
  lockPgno,
  LtxFormatError,
  PAGE_FLAG_SIZE,
  PAGE_HEADER_SIZE,
  type LtxHeader,
} from './format.js';
import { compressBlock } from './lz4.js';
import { writeUvarint } from './varint.js';

export class LtxEncoder {
  /** pgno, offset and size of each page, flat: a 1 GiB snapshot has 262,143 pages. */
  private readonly index: number[] = [];
  private written = 0;
  private prevPgno = 0;
  private state: 'header' | 'pages' | 'closed' = 'header';
  private readonly lock: number;

  private constructor(
    readonly header: LtxHeader,
    private readonly crc: Crc64,
  ) {
    this.lock = lockPgno(header.pageSize);
  }

  static async create(header: LtxHeader): Promise<LtxEncoder> {
    encodeHeader(header); // validates before any byte is produced
    return new LtxEncoder(header, await createCrc64());
  }

  /** Bytes produced so far. */
  get size(): number {
    return this.written;
  }

  get pageCount(): number {
    return this.index.length / 3;
  }

  begin(): Buffer {
    if (this.state !== 'header') throw new LtxFormatError('header already written');
    const b = encodeHeader(this.header);
    this.hashAndCount(b);
    this.state = 'pages';
    return b;
  }

  /** Returns the frame for one page: its header, the compressed size and the LZ4 block. */
  encodePage(pgno: number, data: Buffer): Buffer[] {
    if (this.state !== 'pages') throw new LtxFormatError(`cannot encode a page in state ${this.state}`);
    const h = this.header;
    if (data.length !== h.pageSize) throw new LtxFormatError(`page ${pgno} is ${data.length} bytes, expected ${h.pageSize}`);
    if (pgno < 1 || pgno > h.commit) throw new LtxFormatError(`page ${pgno} outside database of ${h.commit} pages`);
    if (pgno === this.lock) throw new LtxFormatError(`page ${pgno} is the lock page`);
    if (isSnapshotHeader(h)) {
      const expected = this.prevPgno + 1 === this.lock ? this.prevPgno + 2 : this.prevPgno + 1;
      if (pgno !== expected) throw new LtxFormatError(`snapshot pages must be contiguous: ${this.prevPgno} then ${pgno}`);
    } else if (pgno <= this.prevPgno) {
      throw new LtxFormatError(`pages out of order: ${this.prevPgno} then ${pgno}`);
    }

    const offset = this.written;
    const block = compressBlock(data);
    const head = Buffer.allocUnsafe(PAGE_HEADER_SIZE + 4);
    encodePageHeader(pgno, PAGE_FLAG_SIZE).copy(head, 0);
    head.writeUInt32BE(block.length, PAGE_HEADER_SIZE);
    this.hashAndCount(head);
    // The checksum covers the uncompressed page, not the block.
    this.crc.update(data);
    this.written += block.length;

    this.index.push(pgno, offset, this.written - offset);
    this.prevPgno = pgno;
    return [head, block];
  }

  /** Returns the end-of-pages marker, the page index and the trailer. */
  finish(postApplyChecksum = 0n): Buffer {
    if (this.state !== 'pages') throw new LtxFormatError(`cannot finish in state ${this.state}`);
    const h = this.header;
    if (isSnapshotHeader(h)) {
      const last = h.commit === this.lock ? h.commit - 1 : h.commit;
      if (this.prevPgno !== last) throw new LtxFormatError(`snapshot ends at page ${this.prevPgno}, database has ${h.commit}`);
    }
    const parts: Buffer[] = [];
    const endMarker = Buffer.alloc(PAGE_HEADER_SIZE);
    this.hashAndCount(endMarker);
    parts.push(endMarker);

    const indexStart = this.written;
    // At most 10 bytes per varint: written straight into one buffer, no array of byte values.
    const room = Buffer.allocUnsafe(10 * (this.index.length + 1));
    let at = 0;
    for (const v of this.index) at = writeUvarint(room, at, v);
    at = writeUvarint(room, at, 0);
    const index = room.subarray(0, at);
    this.hashAndCount(index);
    parts.push(index);
    const indexSize = Buffer.alloc(8);
    indexSize.writeBigUInt64BE(BigInt(this.written - indexStart), 0);
    this.hashAndCount(indexSize);
    parts.push(indexSize);

    const post = Buffer.alloc(8);
    post.writeBigUInt64BE(postApplyChecksum, 0);
    this.crc.update(post);
    const fileChecksum = CHECKSUM_FLAG | this.crc.digest();
    const trailer = encodeTrailer({ postApplyChecksum, fileChecksum });
    this.written += trailer.length;
    parts.push(trailer);
    this.state = 'closed';
    return Buffer.concat(parts);
  }

  private hashAndCount(b: Buffer): void {
    this.crc.update(b);
    this.written += b.length;
  }
}
