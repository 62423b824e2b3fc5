// Decodes LTX files: header, pages, page index and trailer, verifying the CRC-64 file checksum and
// the page index. One decoder reads a stream of chunks, so a restore never needs a whole file in
// memory; LtxFile is the same decoder over a buffer already in memory. Pure: no I/O.
import { ByteReader } from './byte-reader.js';
import { createCrc64, type Crc64 } from './crc64.js';
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

export interface LtxPage {
  pgno: number;
  data: Buffer;
}

/** Decodes only the header; cheap, for listings and planning. */
export function peekLtxHeader(buf: Buffer): LtxHeader {
  return decodeHeader(buf.subarray(0, HEADER_SIZE));
}

/** An LTX file held in memory. */
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
  pages(): AsyncGenerator<LtxPage, LtxTrailer> {
    const reader = new ByteReader(single(this.buf.subarray(HEADER_SIZE)), HEADER_SIZE);
    return decodeBody(this.header, this.buf.subarray(0, HEADER_SIZE), reader);
  }

  /** Decodes everything and checks it; throws LtxFormatError on any defect. */
  verify(): Promise<LtxTrailer> {
    return drain(this.pages());
  }
}

/** An LTX file read as a stream of chunks (a download, a file read), decoded as it arrives. */
export class LtxStream {
  private constructor(
    readonly header: LtxHeader,
    private readonly headerBytes: Buffer,
    private readonly reader: ByteReader,
  ) {}

  static async open(source: AsyncIterable<Buffer>): Promise<LtxStream> {
    const reader = new ByteReader(source);
    try {
      const headerBytes = Buffer.from(await reader.read(HEADER_SIZE, 'header'));
      return new LtxStream(decodeHeader(headerBytes), headerBytes, reader);
    } catch (err) {
      await reader.cancel();
      throw err;
    }
  }

  /** As LtxFile.pages(); can be called once. */
  pages(): AsyncGenerator<LtxPage, LtxTrailer> {
    return decodeBody(this.header, this.headerBytes, this.reader);
  }

  verify(): Promise<LtxTrailer> {
    return drain(this.pages());
  }

  /** Stops reading the source early, releasing what it holds (a remote file handle). */
  close(): Promise<void> {
    return this.reader.cancel();
  }
}

async function* single(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

async function drain(it: AsyncGenerator<LtxPage, LtxTrailer>): Promise<LtxTrailer> {
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

async function* decodeBody(header: LtxHeader, headerBytes: Buffer, r: ByteReader): AsyncGenerator<LtxPage, LtxTrailer> {
  const crc = await createCrc64();
  crc.update(headerBytes);
  const lock = lockPgno(header.pageSize);
  // The largest LZ4 block a page can compress to (LZ4's compressBound); a larger size field is
  // corrupt, and is refused before it makes the reader buffer the rest of the stream.
  const maxBlock = header.pageSize + Math.floor(header.pageSize / 255) + 16;
  // pgno, offset and size of every page, for the page index check.
  const seen: number[] = [];
  let prev = 0;
  // A page's header and its block's size field, checksummed together.
  const frameHead = Buffer.allocUnsafe(PAGE_HEADER_SIZE + 4);
  for (;;) {
    const start = r.position;
    const pageHead = r.readNow(PAGE_HEADER_SIZE) ?? (await r.read(PAGE_HEADER_SIZE, 'page header'));
    const pgno = pageHead.readUInt32BE(0);
    const flags = pageHead.readUInt16BE(4);
    if (pgno === 0 && flags === 0) {
      crc.update(pageHead);
      break;
    }
    if (pgno === 0) throw new LtxFormatError('page number 0');
    if ((flags & ~PAGE_FLAG_SIZE) !== 0) throw new LtxFormatError(`invalid page flags 0x${flags.toString(16)}`);
    if ((flags & PAGE_FLAG_SIZE) === 0) throw new LtxFormatError('legacy LZ4-frame pages are not supported');
    if (pgno <= prev) throw new LtxFormatError(`pages out of order: ${prev} then ${pgno}`);
    if (pgno === lock) throw new LtxFormatError(`lock page ${pgno} stored`);
    if (pgno > header.commit) throw new LtxFormatError(`page ${pgno} beyond commit size ${header.commit}`);
    // The two fields side by side, so the checksum takes them in one call.
    pageHead.copy(frameHead, 0, 0, PAGE_HEADER_SIZE);
    const sizeField = r.readNow(4) ?? (await r.read(4, 'page size field'));
    sizeField.copy(frameHead, PAGE_HEADER_SIZE, 0, 4);
    crc.update(frameHead);
    const blockSize = sizeField.readUInt32BE(0);
    if (blockSize > maxBlock) throw new LtxFormatError(`page ${pgno}: block size ${blockSize} is more than a ${header.pageSize}-byte page compresses to`);
    const block = r.readNow(blockSize) ?? (await r.read(blockSize, `page ${pgno} data`));
    let data: Buffer;
    try {
      data = decompressBlock(block, header.pageSize);
    } catch (err) {
      throw new LtxFormatError(`page ${pgno}: corrupt LZ4 block (${(err as Error).message})`);
    }
    crc.update(data);
    seen.push(pgno, start, r.position - start);
    prev = pgno;
    yield { pgno, data };
  }

  // The page index, its size and the trailer are read entry by entry, and nothing is accepted
  // after the trailer: a file padded (or sparse) past its end is corrupt, and is refused without
  // reading the padding into memory.
  const indexStart = r.position;
  // The index's varints (one to three bytes each, three per page) reach the checksum a few
  // kilobytes at a time, not one call each.
  const indexBytes = new ChecksumBatch(crc);
  for (let i = 0; i < seen.length; i += 3) {
    for (let j = 0; j < 3; j++) {
      const v = r.readUvarintNow('page index') ?? (await r.readUvarint('page index'));
      indexBytes.add(v.bytes);
      if (v.value !== seen[i + j]) throw new LtxFormatError(`page index entry for page ${seen[i]} does not match the page`);
    }
  }
  const end = await r.readUvarint('page index');
  indexBytes.add(end.bytes);
  indexBytes.flush();
  if (end.value !== 0) throw new LtxFormatError('page index has extra entries');
  const indexSizeField = await r.read(8, 'page index size');
  crc.update(indexSizeField);
  if (Number(indexSizeField.readBigUInt64BE(0)) !== r.position - 8 - indexStart) throw new LtxFormatError('page index size does not match its position');
  const tail = Buffer.from(await r.read(TRAILER_SIZE, 'trailer'));
  crc.update(tail.subarray(0, 8));
  if (!(await r.atEnd())) throw new LtxFormatError('data after the trailer');
  const trailer: LtxTrailer = {
    postApplyChecksum: tail.readBigUInt64BE(0),
    fileChecksum: tail.readBigUInt64BE(8),
  };
  if ((CHECKSUM_FLAG | crc.digest()) !== trailer.fileChecksum) {
    throw new LtxFormatError('file checksum mismatch');
  }
  if ((header.flags & HEADER_FLAG_NO_CHECKSUM) !== 0 && trailer.postApplyChecksum !== 0n) {
    throw new LtxFormatError('post-apply checksum present in a checksum-free file');
  }
  if (isSnapshotHeader(header)) {
    const pages = seen.length / 3;
    const last = header.commit === lock ? header.commit - 1 : header.commit;
    if (prev !== last || pages !== (last >= lock ? last - 1 : last)) {
      throw new LtxFormatError(`snapshot holds ${pages} pages, database has ${header.commit}`);
    }
  }
  return trailer;
}

/** Small pieces of a checksummed stream, gathered in order and handed to the checksum together. */
class ChecksumBatch {
  private readonly buf = Buffer.allocUnsafe(4096);
  private used = 0;

  constructor(private readonly crc: Crc64) {}

  /** `bytes` is a varint: at most 10 bytes, far less than the buffer. */
  add(bytes: Buffer): void {
    if (this.used + bytes.length > this.buf.length) this.flush();
    this.used += bytes.copy(this.buf, this.used);
  }

  flush(): void {
    if (this.used > 0) this.crc.update(this.buf.subarray(0, this.used));
    this.used = 0;
  }
}
