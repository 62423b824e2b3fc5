// What an LTX file's header claims, checked against the pages it holds and against the chain it
// continues, so that a file with a valid checksum but hostile contents cannot restore to an empty,
// huge or holed database. Pure: the caller feeds it headers and page numbers.
//
// The rule: the database after a file has `commit` pages, and every page the file adds beyond the
// size the chain had before it must be in the file. A snapshot adds every page (it starts from
// nothing); an incremental file that grows the database holds the pages it grows by (SQLite writes
// every page it appends in the transaction that appends it). The lock page is never stored.
import { isSnapshotHeader, lockPgno, LtxFormatError, type LtxHeader } from '../ltx/format.js';

export class FileCheck {
  private nextAdded: number;
  private readonly lock: number;

  constructor(
    private readonly header: LtxHeader,
    /** Pages in the database before this file: 0 for a snapshot. */
    private readonly sizeBefore: number,
  ) {
    this.lock = lockPgno(header.pageSize);
    this.nextAdded = this.skipLock(sizeBefore + 1);
  }

  /** Each page number as it is decoded, in file order (ascending). */
  page(pgno: number): void {
    if (pgno <= this.sizeBefore) return;
    if (pgno !== this.nextAdded) throw new LtxFormatError(this.missing());
    this.nextAdded = this.skipLock(pgno + 1);
  }

  /** After the last page: every page the file adds was there. */
  finish(): void {
    if (this.nextAdded <= this.header.commit) throw new LtxFormatError(this.missing());
  }

  private missing(): string {
    const h = this.header;
    return isSnapshotHeader(h) || this.sizeBefore === 0
      ? `snapshot claims ${h.commit} pages but lacks page ${this.nextAdded}`
      : `grows the database from ${this.sizeBefore} to ${h.commit} pages but lacks page ${this.nextAdded}`;
  }

  private skipLock(pgno: number): number {
    return pgno === this.lock ? pgno + 1 : pgno;
  }
}

/** Tracks the database size along a chain of files applied in order. */
export class ChainCheck {
  private size = 0;

  /** Starts checking the next file; a snapshot starts from nothing. */
  begin(header: LtxHeader): FileCheck {
    return new FileCheck(header, isSnapshotHeader(header) ? 0 : this.size);
  }

  /** The file was applied whole: the database now has its commit size. */
  applied(header: LtxHeader): void {
    this.size = header.commit;
  }

  /** Continues a chain from a database already this many pages long (a follower resuming). */
  static from(size: number): ChainCheck {
    const c = new ChainCheck();
    c.size = size;
    return c;
  }
}
