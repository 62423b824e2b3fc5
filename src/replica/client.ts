// What every replica backend provides. Files are named by level and TXID range; the file names
// are the replica's only index, so listing is the one query there is. Levels, names and paths:
// layout.ts.
import type { LtxFileId } from './layout.js';

export interface LtxFileInfo extends LtxFileId {
  size: number;
  /** The LTX header's timestamp, kept as the file's modification time (as Litestream does). */
  createdAt: Date;
}

export interface ReplicaClient {
  /** "file", "sftp", ... */
  readonly type: string;
  /** Where the replica lives, for logs and errors; never holds a secret. */
  readonly location: string;

  /** Files of one level, sorted by TXID range. A missing level is an empty list. */
  listLtxFiles(level: number): Promise<LtxFileInfo[]>;
  /**
   * Uploads a local file so that a reader never sees it partially written. With `exclusive`, a
   * different file already under that name is a ReplicaConflictError (the same bytes are fine: an
   * earlier upload whose answer was lost); otherwise the name is replaced.
   */
  writeLtxFile(info: LtxFileInfo, localPath: string, opts?: { exclusive?: boolean }): Promise<void>;
  readLtxFile(info: LtxFileId): Promise<Buffer>;
  /**
   * The file's bytes in order, as chunks, so a large file never has to be held whole. Stopping the
   * iteration early releases what it opened.
   */
  streamLtxFile(info: LtxFileId): AsyncIterable<Buffer>;
  deleteLtxFiles(infos: LtxFileInfo[]): Promise<void>;
  /**
   * The fence record (layout.ts FENCE_FILE, beside ltx/, which Litestream ignores) with an opaque
   * version of it, or null when there is none. One small read.
   */
  readFence(): Promise<FenceRead | null>;
  /**
   * Writes the fence record so that a reader never sees it partial, but only if the stored record is
   * still `expected` (a version readFence returned; null: only if there is none). Returns false,
   * having written nothing, when it is not. Creating is atomic on every backend (link, SFTP rename,
   * S3 If-None-Match); replacing is atomic on S3 (If-Match), while on a directory and over SFTP the
   * check and the rename are two steps with a window of one round trip between them.
   */
  writeFence(text: string, expected: string | null): Promise<boolean>;
  /**
   * Removes temporary upload files (layout.tempFileName names) that nothing touched for longer than
   * `olderThanMs`, in every level, plus those this client knows it abandoned; returns how many went.
   * A file another live writer is uploading is never that old (temp-files.ts), so this is safe to
   * run beside one. A backend without temporary files (object storage) returns 0.
   *
   * Writers need not call it: a backend sweeps by itself, with a bound of minutes, with its first
   * write or delete, again after each reconnect, and when a leftover it saw turns stale;
   * readers (restore) never sweep. A removal that fails (a read-only filesystem) is tried again at
   * a later write.
   */
  sweepTemporaryFiles(olderThanMs: number): Promise<number>;
  /**
   * Waits up to `graceMs` for operations in flight, then ends the connection, failing whatever is
   * still running, so a stop is bounded however the server behaves. Later use reconnects.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Drops any reconnect backoff, so the next operation (or one waiting to reconnect) tries at once:
   * at shutdown the wait would eat the time left to ship.
   */
  retryNow(): void;
}

export interface FenceRead {
  text: string;
  /** Changes whenever the record does (an ETag, or a digest of the contents). */
  version: string;
}

export class ReplicaError extends Error {
  override name = 'ReplicaError';
  constructor(
    readonly replica: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`replica ${replica}: ${message}`, options);
  }
}

/** Another writer put different contents under a name this replicator owns: two histories. */
export class ReplicaConflictError extends ReplicaError {
  override name = 'ReplicaConflictError';
}

