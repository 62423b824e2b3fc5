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

/** Checks one frame (header + page) against the salts and the running checksum before it. */
export function verifyFrame(
  header: WalHeader,
  frame: Buffer,
  prev: RunningChecksum,
): { frame: WalFrameHeader; checksum: RunningChecksum } | null {
  const fh = parseFrameHeader(frame);
  if (fh.salt1 !== header.salt1 || fh.salt2 !== header.salt2) return null;
  let ck = walChecksum(header.bigEndianChecksum, frame.subarray(0, 8), prev);
  ck = walChecksum(header.bigEndianChecksum, frame.subarray(WAL_FRAME_HEADER_SIZE), ck);
  if (ck.s1 !== fh.checksum1 || ck.s2 !== fh.checksum2) return null;
  return { frame: fh, checksum: ck };
}
