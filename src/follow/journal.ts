// SQLite's rollback journal format (https://www.sqlite.org/fileformat.html, "The Rollback Journal"),
// written by the follower before it overwrites pages of a database readers have open. If the
// follower dies mid-apply, the journal is "hot" and SQLite itself puts the old pages back before
// anyone reads: the next connection with write access rolls it back, and a read-only one refuses
// to read rather than see half a transaction. Pure: bytes in, bytes out.

const MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
/** The journal header takes one sector; SQLite reads the sector size back from the header. */
export const JOURNAL_SECTOR_SIZE = 4096;

export interface JournalHeader {
  /** Records that follow. */
  records: number;
  /** Random; seeds every record's checksum. */
  nonce: number;
  /** Database size in pages before the change: a rollback truncates (or extends) back to it. */
  sizeBefore: number;
  pageSize: number;
}

export function encodeJournalHeader(h: JournalHeader): Buffer {
  const b = Buffer.alloc(JOURNAL_SECTOR_SIZE);
  MAGIC.copy(b, 0);
  b.writeUInt32BE(h.records, 8);
  b.writeUInt32BE(h.nonce >>> 0, 12);
  b.writeUInt32BE(h.sizeBefore, 16);
  b.writeUInt32BE(JOURNAL_SECTOR_SIZE, 20);
  b.writeUInt32BE(h.pageSize, 24);
  return b;
}

/** SQLite's record checksum: the nonce plus every 200th byte of the page, from the end down. */
export function journalChecksum(nonce: number, page: Buffer): number {
  let sum = nonce >>> 0;
  for (let i = page.length - 200; i > 0; i -= 200) sum = (sum + page[i]!) >>> 0;
  return sum;
}

/** One record: the page number, the page as it was, the checksum. */
export function encodeJournalRecord(nonce: number, pgno: number, page: Buffer): Buffer[] {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(pgno, 0);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(journalChecksum(nonce, page), 0);
  return [head, page, tail];
}
