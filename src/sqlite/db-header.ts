// The fields of SQLite's 100-byte database header that capture needs. Pure: no I/O.

export interface DbHeader {
  pageSize: number;
  /** "In-header database size", trusted only when SQLite marks it valid. */
  pageCount: number | null;
  /** 2 in bytes 18-19 means WAL mode. */
  walMode: boolean;
}

export function parseDbHeader(b: Buffer): DbHeader | null {
  if (b.length < 100 || b.toString('latin1', 0, 16) !== 'SQLite format 3\u0000') return null;
  const raw = b.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const changeCounter = b.readUInt32BE(24);
  const versionValidFor = b.readUInt32BE(92);
  const inHeader = b.readUInt32BE(28);
  return {
    pageSize,
    pageCount: inHeader > 0 && changeCounter === versionValidFor ? inHeader : null,
    walMode: b[18] === 2 && b[19] === 2,
  };
}

export type DbFileKind = 'empty' | 'not-sqlite' | 'not-wal' | 'wal';

/**
 * What a file matching the pattern is, from its size and first 100 bytes. An empty file is a
 * database the application has only just created: not yet anything, so not yet a warning.
 */
export function classifyDbFile(head: Buffer, size: number): DbFileKind {
  if (size === 0) return 'empty';
  const h = parseDbHeader(head);
  if (!h) return 'not-sqlite';
  return h.walMode ? 'wal' : 'not-wal';
}
