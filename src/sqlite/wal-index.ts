// How far the WAL has been checkpointed, read from SQLite's WAL index (`<db>-shm`): the header's
// mxFrame (the last valid frame) and the checkpoint record's nBackfill (frames copied into the
// database file). A finished checkpoint changes nBackfill without writing the database file or the
// WAL at its end (SQLite sets it after its fsync), so the idle poll compares these too.
//
// The file is read through a descriptor opened after SQLite's own connections and closed only after
// theirs: closing any descriptor of a file drops every POSIX lock this process holds on it, and
// SQLite's WAL read locks are on this file.
import { closeSync, openSync, readSync } from 'node:fs';

/** Byte offsets in the WAL index (SQLite's wal.c: WalIndexHdr.mxFrame, WalCkptInfo.nBackfill). */
export const WAL_INDEX_MX_FRAME = 16;
export const WAL_INDEX_N_BACKFILL = 96;
const READ_BYTES = WAL_INDEX_N_BACKFILL + 4;

export class WalIndex {
  private fd: number | null;
  private readonly buf = Buffer.alloc(READ_BYTES);

  /** Opens `<db>-shm`; without one (not created yet), `look()` is empty. */
  constructor(dbPath: string) {
    try {
      this.fd = openSync(`${dbPath}-shm`, 'r');
    } catch {
      this.fd = null;
    }
  }

  /** mxFrame and nBackfill as they are now (native byte order, compared as they are), or ''. */
  look(): string {
    if (this.fd === null) return '';
    const n = readSync(this.fd, this.buf, 0, READ_BYTES, 0);
    if (n < READ_BYTES) return '';
    return `${this.buf.readUInt32LE(WAL_INDEX_MX_FRAME)}/${this.buf.readUInt32LE(WAL_INDEX_N_BACKFILL)}`;
  }

  /**
   * The last valid frame as the index says now (mxFrame), or null without an index. Read without
   * SQLite's locks, so only a hint: how much of the WAL a scan should expect to find.
   */
  maxFrame(): number | null {
    if (this.fd === null) return null;
    const n = readSync(this.fd, this.buf, 0, WAL_INDEX_MX_FRAME + 4, 0);
    return n < WAL_INDEX_MX_FRAME + 4 ? null : this.buf.readUInt32LE(WAL_INDEX_MX_FRAME);
  }

  /** Only after SQLite's connections to the database are closed. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
