// SQLite's WAL file format: the 32-byte header, 24-byte frame headers and the running
// checksum that chains every frame to the one before it. Pure: no I/O.

export const WAL_HEADER_SIZE = 32;
export const WAL_FRAME_HEADER_SIZE = 24;
const MAGIC_LE = 0x377f0682;
const MAGIC_BE = 0x377f0683;

export interface WalHeader {
  /** True when checksums read words big-endian (magic 0x377f0683). */
  bigEndianChecksum: boolean;
  pageSize: number;
  checkpointSeq: number;
  salt1: number;
  salt2: number;
  checksum1: number;
  checksum2: number;
}

export interface WalFrameHeader {
  pgno: number;
  /** Database size in pages after this frame for a commit frame; 0 otherwise. */
  commit: number;
  salt1: number;
  salt2: number;
  checksum1: number;
  checksum2: number;
}

export interface RunningChecksum {
  s1: number;
  s2: number;
}

/** Returns null when the bytes are not a valid WAL header (absent, torn or zeroed). */
export function parseWalHeader(b: Buffer): WalHeader | null {
  if (b.length < WAL_HEADER_SIZE) return null;
  const magic = b.readUInt32BE(0);
  if (magic !== MAGIC_LE && magic !== MAGIC_BE) return null;
  const raw = b.readUInt32BE(8);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return null;
  const bigEndianChecksum = magic === MAGIC_BE;
  const h: WalHeader = {
    bigEndianChecksum,
    pageSize,
    checkpointSeq: b.readUInt32BE(12),
    salt1: b.readUInt32BE(16),
    salt2: b.readUInt32BE(20),
    checksum1: b.readUInt32BE(24),
    checksum2: b.readUInt32BE(28),
  };
  const ck = walChecksum(bigEndianChecksum, b.subarray(0, 24), { s1: 0, s2: 0 });
  if (ck.s1 !== h.checksum1 || ck.s2 !== h.checksum2) return null;
  return h;
}

export function parseFrameHeader(b: Buffer, offset = 0): WalFrameHeader {
  return {
    pgno: b.readUInt32BE(offset),
    commit: b.readUInt32BE(offset + 4),
    salt1: b.readUInt32BE(offset + 8),
    salt2: b.readUInt32BE(offset + 12),
    checksum1: b.readUInt32BE(offset + 16),
    checksum2: b.readUInt32BE(offset + 20),
  };
}

/**
 * SQLite's WAL checksum over 8-byte chunks, continued from `from`.
 * Words are read in the byte order the header's magic selects.
 */
export function walChecksum(bigEndian: boolean, data: Buffer, from: RunningChecksum): RunningChecksum {
  if (data.length % 8 !== 0) throw new Error(`WAL checksum input must be a multiple of 8 bytes, got ${data.length}`);
  let s1 = from.s1;
  let s2 = from.s2;
  const n = data.length;
  if (bigEndian) {
    for (let i = 0; i < n; i += 8) {
      s1 = (s1 + data.readUInt32BE(i) + s2) >>> 0;
      s2 = (s2 + data.readUInt32BE(i + 4) + s1) >>> 0;
    }
  } else if (data.byteOffset % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, n >>> 2);
    for (let i = 0; i < words.length; i += 2) {
      s1 = (s1 + words[i]! + s2) >>> 0;
      s2 = (s2 + words[i + 1]! + s1) >>> 0;
    }
  } else {
    for (let i = 0; i < n; i += 8) {
      s1 = (s1 + data.readUInt32LE(i) + s2) >>> 0;
      s2 = (s2 + data.readUInt32LE(i + 4) + s1) >>> 0;
    }
  }
  return { s1, s2 };
}

/**
 * Checks frames in place in one buffer of frames read from the WAL, without allocating: a scan
 * checks every frame a commit wrote. Offsets are relative to `buf` and frame-aligned.
 */
export class FrameChecker {
  /** Native (little-endian) words over `buf`, when the checksum reads them so and `buf` is aligned. */
  private readonly words: Uint32Array | null;
  private readonly frameSize: number;

  constructor(
    private readonly header: WalHeader,
    private readonly buf: Buffer,
  ) {
    this.frameSize = WAL_FRAME_HEADER_SIZE + header.pageSize;
    this.words = !header.bigEndianChecksum && buf.byteOffset % 4 === 0 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2) : null;
  }

  /**
   * Checks the frame at `offset` against the salts and the running checksum. On success returns
   * its page number and advances `running` past it; otherwise returns 0 (as SQLite, a frame for
   * page 0 ends the log too) and leaves `running` as it was.
   */
  check(offset: number, running: RunningChecksum): number {
    const buf = this.buf;
    if (offset + this.frameSize > buf.length) return 0;
    if (buf.readUInt32BE(offset + 8) !== this.header.salt1 || buf.readUInt32BE(offset + 12) !== this.header.salt2) return 0;
    let s1 = running.s1;
    let s2 = running.s2;
    const words = this.words;
    if (words) {
      const w0 = offset >>> 2;
      const end = w0 + (this.frameSize >>> 2);
      s1 = (s1 + words[w0]! + s2) >>> 0;
      s2 = (s2 + words[w0 + 1]! + s1) >>> 0;
      for (let i = w0 + (WAL_FRAME_HEADER_SIZE >>> 2); i < end; i += 2) {
        s1 = (s1 + words[i]! + s2) >>> 0;
        s2 = (s2 + words[i + 1]! + s1) >>> 0;
      }
    } else {
      // Big-endian checksums (a WAL written on such a machine) or an unaligned buffer: rare, so
      // the general checksum, over the header's first 8 bytes and then the page.
      const big = this.header.bigEndianChecksum;
      const head = walChecksum(big, buf.subarray(offset, offset + 8), running);
      ({ s1, s2 } = walChecksum(big, buf.subarray(offset + WAL_FRAME_HEADER_SIZE, offset + this.frameSize), head));
    }
    const pgno = buf.readUInt32BE(offset);
    if (pgno === 0 || s1 !== buf.readUInt32BE(offset + 16) || s2 !== buf.readUInt32BE(offset + 20)) return 0;
    running.s1 = s1;
    running.s2 = s2;
    return pgno;
  }

  /** The commit field of the frame at `offset`: the database's size in pages for a commit frame, else 0. */
  commitAt(offset: number): number {
    return this.buf.readUInt32BE(offset + 4);
  }
}

/** Checks one frame (header + page) against the salts and the running checksum before it. */
export function verifyFrame(
  header: WalHeader,
  frame: Buffer,
  prev: RunningChecksum,
): { frame: WalFrameHeader; checksum: RunningChecksum } | null {
  const checksum = { s1: prev.s1, s2: prev.s2 };
  if (frame.length !== WAL_FRAME_HEADER_SIZE + header.pageSize || new FrameChecker(header, frame).check(0, checksum) === 0) return null;
  return { frame: parseFrameHeader(frame), checksum };
}
