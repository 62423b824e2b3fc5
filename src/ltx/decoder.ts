// Reads an LTX file held in memory: header, pages, page index and trailer, verifying the
// CRC-64 file checksum and the page index. Pure: no I/O.
import { createCrc64 } from './crc64.js';
import {
  CHECKSUM_FLAG,
  decodeHeader,
  HEADER_FLAG_NO_CHECKSUM,
  HEADER_SIZE,
  isSnapshotHeader,
  lockPgno,
  LtxFormatError,
  PAGE_FLAG_SIZE,
  PAGE_HEADER_SIZE,
  TRAILER_SIZE,
  type LtxHeader,
  type LtxTrailer,
} from './format.js';
import { decompressBlock } from './lz4.js';
import { readUvarint } from './varint.js';

export interface LtxPage {
  pgno: number;
  data: Buffer;
}

/** Decodes only the header; cheap, for listings and planning. */
export function peekLtxHeader(buf: Buffer): LtxHeader {
  return decodeHeader(buf.subarray(0, HEADER_SIZE));
}

export class LtxFile {
  private constructor(
    readonly header: LtxHeader,
    private readonly buf: Buffer,
  ) {}

  static open(buf: Buffer): LtxFile {
    return new LtxFile(decodeHeader(buf), buf);
  }

  /**
   * Yields every page in file order. The file checksum, the page index and the trailer are
   * checked after the last page, so a caller must consume the whole iterator (or call verify())
   * before trusting what it applied.
   */
  async *pages(): AsyncGenerator<LtxPage, LtxTrailer> {
    const { header, buf } = this;
    const crc = await createCrc64();
    crc.update(buf.subarray(0, HEADER_SIZE));
    const lock = lockPgno(header.pageSize);
    const seen: Array<{ pgno: number; offset: number; size: number }> = [];
    let pos = HEADER_SIZE;
    let prev = 0;
    for (;;) {
      need(buf, pos, PAGE_HEADER_SIZE, 'page header');
      const pageHead = buf.subarray(pos, pos + PAGE_HEADER_SIZE);
      crc.update(pageHead);
      const pgno = pageHead.readUInt32BE(0);
      const flags = pageHead.readUInt16BE(4);
      if (pgno === 0 && flags === 0) {
        pos += PAGE_HEADER_SIZE;
        break;
      }
      if (pgno === 0) throw new LtxFormatError('page number 0');
      if ((flags & ~PAGE_FLAG_SIZE) !== 0) throw new LtxFormatError(`invalid page flags 0x${flags.toString(16)}`);
      if ((flags & PAGE_FLAG_SIZE) === 0) throw new LtxFormatError('legacy LZ4-frame pages are not supported');
      if (pgno <= prev) throw new LtxFormatError(`pages out of order: ${prev} then ${pgno}`);
      if (pgno === lock) throw new LtxFormatError(`lock page ${pgno} stored`);
      if (pgno > header.commit) throw new LtxFormatError(`page ${pgno} beyond commit size ${header.commit}`);
      const start = pos;
      pos += PAGE_HEADER_SIZE;
      need(buf, pos, 4, 'page size field');
      const sizeField = buf.subarray(pos, pos + 4);
      crc.update(sizeField);
      const blockSize = sizeField.readUInt32BE(0);
      pos += 4;
      need(buf, pos, blockSize, `page ${pgno} data`);
      let data: Buffer;
      try {
        data = decompressBlock(buf.subarray(pos, pos + blockSize), header.pageSize);
      } catch (err) {
        throw new LtxFormatError(`page ${pgno}: corrupt LZ4 block (${(err as Error).message})`);
      }
      pos += blockSize;
      crc.update(data);
      seen.push({ pgno, offset: start, size: pos - start });
      prev = pgno;
      yield { pgno, data };
    }

    // Page index, then its size, then the trailer.
    need(buf, pos, TRAILER_SIZE + 8, 'page index and trailer');
    const trailerStart = buf.length - TRAILER_SIZE;
    const indexSizeAt = trailerStart - 8;
    const indexSize = Number(buf.readBigUInt64BE(indexSizeAt));
    if (indexSizeAt - indexSize !== pos) throw new LtxFormatError('page index size does not match its position');
    crc.update(buf.subarray(pos, trailerStart + 8));
    let at = pos;
    for (const entry of seen) {
      const a = indexVarint(buf, at);
      const b = indexVarint(buf, a.next);
      const c = indexVarint(buf, b.next);
      if (a.value !== entry.pgno || b.value !== entry.offset || c.value !== entry.size) {
        throw new LtxFormatError(`page index entry for page ${entry.pgno} does not match the page`);
      }
      at = c.next;
    }
    const end = indexVarint(buf, at);
    if (end.value !== 0 || end.next !== indexSizeAt) throw new LtxFormatError('page index has extra entries');

    const trailer: LtxTrailer = {
      postApplyChecksum: buf.readBigUInt64BE(trailerStart),
      fileChecksum: buf.readBigUInt64BE(trailerStart + 8),
    };
    if ((CHECKSUM_FLAG | crc.digest()) !== trailer.fileChecksum) {
      throw new LtxFormatError('file checksum mismatch');
    }
    if ((header.flags & HEADER_FLAG_NO_CHECKSUM) !== 0 && trailer.postApplyChecksum !== 0n) {
      throw new LtxFormatError('post-apply checksum present in a checksum-free file');
    }
    if (isSnapshotHeader(header)) {
      const last = header.commit === lock ? header.commit - 1 : header.commit;
      if (prev !== last || seen.length !== (last >= lock ? last - 1 : last)) {
        throw new LtxFormatError(`snapshot holds ${seen.length} pages, database has ${header.commit}`);
      }
    }
    return trailer;
  }

  /** Decodes everything and checks it; throws LtxFormatError on any defect. */
  async verify(): Promise<LtxTrailer> {
    const it = this.pages();
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }
}

/** A corrupt varint is a corrupt file: report it as LtxFormatError like every other defect. */
function indexVarint(buf: Buffer, at: number): { value: number; next: number } {
  try {
    return readUvarint(buf, at);
  } catch (err) {
    throw new LtxFormatError(`page index: ${(err as Error).message}`);
  }
}

function need(buf: Buffer, pos: number, n: number, what: string): void {
  if (pos + n > buf.length) throw new LtxFormatError(`truncated file: ${what} runs past the end`);
}
