// The LTX v3 file layout (github.com/superfly/ltx): a 100-byte header, page frames,
// a page index and a 16-byte trailer. Pure byte-level code, no I/O.

export const LTX_MAGIC = 'LTX1';
export const LTX_VERSION = 3;
export const HEADER_SIZE = 100;
export const PAGE_HEADER_SIZE = 6;
export const TRAILER_SIZE = 16;

/** Pages carry no rolling database checksum; Litestream v0.5 writes every file this way. */
export const HEADER_FLAG_NO_CHECKSUM = 1 << 1;
/** A 4-byte compressed size follows the page header and the data is an LZ4 block. */
export const PAGE_FLAG_SIZE = 1 << 0;
/** Set on every stored checksum so that a zero value always means "absent". */
export const CHECKSUM_FLAG = 1n << 63n;

const PENDING_BYTE = 0x40000000;

export interface LtxHeader {
  flags: number;
  pageSize: number;
  /** Database size in pages after this file is applied. */
  commit: number;
  minTXID: number;
  maxTXID: number;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  preApplyChecksum: bigint;
  walOffset: number;
  walSize: number;
  walSalt1: number;
  walSalt2: number;
  nodeID: bigint;
}

/**
 * A header for a file walship writes: no rolling checksum (as Litestream v0.5 writes them) and no
 * WAL position unless given.
 */
export function ltxHeader(h: Pick<LtxHeader, 'pageSize' | 'commit' | 'minTXID' | 'maxTXID' | 'timestamp'> & Partial<LtxHeader>): LtxHeader {
  return {
    flags: HEADER_FLAG_NO_CHECKSUM,
    preApplyChecksum: 0n,
    walOffset: 0,
    walSize: 0,
    walSalt1: 0,
    walSalt2: 0,
    nodeID: 0n,
    ...h,
  };
}

export interface LtxTrailer {
  postApplyChecksum: bigint;
  fileChecksum: bigint;
}

export class LtxFormatError extends Error {
  override name = 'LtxFormatError';
}

/** The page that holds SQLite's lock byte at the 1 GiB offset; it is never stored. */
export function lockPgno(pageSize: number): number {
  return Math.floor(PENDING_BYTE / pageSize) + 1;
}

export function isValidPageSize(size: number): boolean {
  return size >= 512 && size <= 65536 && (size & (size - 1)) === 0;
}

/** A file whose range starts at TXID 1 holds every page of the database. */
export function isSnapshotHeader(h: LtxHeader): boolean {
  return h.minTXID === 1;
}

export function encodeHeader(h: LtxHeader): Buffer {
  validateHeader(h);
  const b = Buffer.alloc(HEADER_SIZE);
  b.write(LTX_MAGIC, 0, 'latin1');
  b.writeUInt32BE(h.flags >>> 0, 4);
  b.writeUInt32BE(h.pageSize, 8);
  b.writeUInt32BE(h.commit, 12);
  b.writeBigUInt64BE(BigInt(h.minTXID), 16);
  b.writeBigUInt64BE(BigInt(h.maxTXID), 24);
  b.writeBigInt64BE(BigInt(h.timestamp), 32);
  b.writeBigUInt64BE(h.preApplyChecksum, 40);
  b.writeBigInt64BE(BigInt(h.walOffset), 48);
  b.writeBigInt64BE(BigInt(h.walSize), 56);
  b.writeUInt32BE(h.walSalt1 >>> 0, 64);
  b.writeUInt32BE(h.walSalt2 >>> 0, 68);
  b.writeBigUInt64BE(h.nodeID, 72);
  return b;
}

export function decodeHeader(b: Buffer): LtxHeader {
  if (b.length < HEADER_SIZE) throw new LtxFormatError(`short header: ${b.length} bytes`);
  if (b.toString('latin1', 0, 4) !== LTX_MAGIC) throw new LtxFormatError('not an LTX file (bad magic)');
  const h: LtxHeader = {
    flags: b.readUInt32BE(4),
    pageSize: b.readUInt32BE(8),
    commit: b.readUInt32BE(12),
    minTXID: toSafeNumber(b.readBigUInt64BE(16), 'min TXID'),
    maxTXID: toSafeNumber(b.readBigUInt64BE(24), 'max TXID'),
    timestamp: toSafeNumber(b.readBigInt64BE(32), 'timestamp'),
    preApplyChecksum: b.readBigUInt64BE(40),
    walOffset: toSafeNumber(b.readBigInt64BE(48), 'WAL offset'),
    walSize: toSafeNumber(b.readBigInt64BE(56), 'WAL size'),
    walSalt1: b.readUInt32BE(64),
    walSalt2: b.readUInt32BE(68),
    nodeID: b.readBigUInt64BE(72),
  };
  validateHeader(h);
  return h;
}

export function validateHeader(h: LtxHeader): void {
  if ((h.flags & ~HEADER_FLAG_NO_CHECKSUM) !== 0) throw new LtxFormatError(`invalid header flags 0x${h.flags.toString(16)}`);
  if (!isValidPageSize(h.pageSize)) throw new LtxFormatError(`invalid page size ${h.pageSize}`);
  // A database has at least one page; a file that says otherwise restores to an empty file.
  if (h.commit < 1) throw new LtxFormatError('commit size 0: no database has zero pages');
  if (h.minTXID < 1 || h.maxTXID < 1) throw new LtxFormatError('TXIDs must be at least 1');
  if (h.minTXID > h.maxTXID) throw new LtxFormatError(`TXIDs out of order: ${h.minTXID} > ${h.maxTXID}`);
  if (h.walOffset < 0 || h.walSize < 0) throw new LtxFormatError('negative WAL offset or size');
  if ((h.walSalt1 !== 0 || h.walSalt2 !== 0) && h.walOffset === 0) throw new LtxFormatError('WAL salt without WAL offset');
  if (h.walOffset === 0 && h.walSize !== 0) throw new LtxFormatError('WAL size without WAL offset');
  const noChecksum = (h.flags & HEADER_FLAG_NO_CHECKSUM) !== 0;
  if (isSnapshotHeader(h) || noChecksum) {
    if (h.preApplyChecksum !== 0n) throw new LtxFormatError('pre-apply checksum must be zero here');
  } else if ((h.preApplyChecksum & CHECKSUM_FLAG) === 0n) {
    throw new LtxFormatError('pre-apply checksum required');
  }
}

export function encodePageHeader(pgno: number, flags: number): Buffer {
  const b = Buffer.alloc(PAGE_HEADER_SIZE);
  b.writeUInt32BE(pgno, 0);
  b.writeUInt16BE(flags, 4);
  return b;
}

export function encodeTrailer(t: LtxTrailer): Buffer {
  const b = Buffer.alloc(TRAILER_SIZE);
  b.writeBigUInt64BE(t.postApplyChecksum, 0);
  b.writeBigUInt64BE(t.fileChecksum, 8);
  return b;
}

export function formatTXID(txid: number): string {
  return txid.toString(16).padStart(16, '0');
}

function toSafeNumber(v: bigint, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new LtxFormatError(`${what} out of range: ${v}`);
  return n;
}
