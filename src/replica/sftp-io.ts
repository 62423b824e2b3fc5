// Promise-based SFTP requests, with errors that name the request and path, and pipelined transfers:
// several reads or writes in flight at once, because one at a time is bound by round trips.
import type { FileHandle } from 'node:fs/promises';
import { promises as fsp, readFileSync } from 'node:fs';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const;

/** An SFTP request failed; `code` is the server's status, or null when no answer came (connection lost). */
export class SftpRequestError extends Error {
  override name = 'SftpRequestError';
  constructor(
    readonly request: string,
    readonly path: string,
    readonly code: number | null,
    /** The server's (or ssh2's) own words, without the request and path. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${request} ${path}: ${detail}`, options);
  }

  /** The same failure with a sentence saying what it likely means. */
  withHint(hint: string): SftpRequestError {
    return new SftpRequestError(this.request, this.path, this.code, `${this.detail} (${hint})`, { cause: this });
  }
}

/** A remote filesystem's space, from statvfs@openssh.com. */
export interface RemoteFsSpace {
  /** Bytes an unprivileged user may still write. */
  availableBytes: number;
  totalBytes: number;
  availableInodes: number;
  readOnly: boolean;
}

/** statvfs(3)'s ST_RDONLY flag. */
const ST_RDONLY = 1;

export function sftpStatus(err: unknown): number | null {
  return err instanceof SftpRequestError ? err.code : null;
}

const UNSUPPORTED = /does not support this extended request/;

/** What a stalled connection was doing: for the log line that reports it. */
export interface SftpStallReport {
  pending: number;
  oldest: string | null;
  channel: { state: unknown; window: unknown; buffered: number; waitingForWindow: unknown };
}

/** A request sent and not yet answered. */
interface WaitingRequest {
  request: string;
  path: string;
  /** Fails the request: the connection went before its answer came. */
  onLost: () => void;
}

export class Sftp {
  private pending = 0;
  private lastProgressAt = Date.now();
  /** Requests waiting for an answer, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<WaitingRequest>();
  /** Called when a request finds the channel no longer open, so the owner can drop the connection. */
  onChannelGone: (() => void) | null = null;

  /**
   * `lost` aborts when the connection goes away: ssh2 does not always fail the requests still
   * waiting for an answer then, so they are failed here rather than left hanging.
   */
  constructor(
    private readonly raw: SFTPWrapper,
    private readonly lost: AbortSignal,
  ) {
    // One listener for the connection, not one per request: at sync-interval 0s a file is six
    // requests, and adding and removing an EventTarget listener for each showed in the profile.
    lost.addEventListener('abort', () => {
      for (const entry of [...this.waiting]) entry.onLost();
    }, { once: true });
  }

  /**
   * How long requests have been waiting without any answer arriving; 0 when none is waiting. A live
   * TCP connection whose server stopped answering SFTP requests passes keepalives, so this is what
   * tells the client to give the connection up instead of waiting forever.
   */
  stalledForMs(now = Date.now()): number {
    return this.pending === 0 ? 0 : now - this.lastProgressAt;
  }

  private oldest(): string | null {
    const first = this.waiting.values().next().value;
    return first ? `${first.request} ${first.path}` : null;
  }

  /** The oldest waiting request and ssh2's channel state (internal fields, read defensively). */
  stallReport(): SftpStallReport {
    const raw = this.raw as unknown as { outgoing?: { state?: unknown; window?: unknown }; _buffer?: unknown[]; _waitWindow?: unknown };
    return {
      pending: this.pending,
      oldest: this.oldest(),
      channel: { state: raw.outgoing?.state, window: raw.outgoing?.window, buffered: raw._buffer?.length ?? 0, waitingForWindow: raw._waitWindow },
    };
  }

  /** Wraps one callback-style request; ssh2 throws synchronously for some misuse, which becomes a rejection too. */
  private call<T>(request: string, path: string, start: (cb: (err: Error | undefined | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.lost.aborted) return reject(new SftpRequestError(request, path, null, 'connection lost'));
      if (!this.channelOpen()) {
        this.onChannelGone?.();
        return reject(new SftpRequestError(request, path, null, 'the SFTP channel is closing'));
      }
      if (this.pending++ === 0) this.lastProgressAt = Date.now();
      let done = false;
      const entry: WaitingRequest = {
        request,
        path,
        onLost: () => {
          if (done) return;
          finish();
          reject(new SftpRequestError(request, path, null, 'connection lost before the server answered'));
        },
      };
      this.waiting.add(entry);
      const finish = (): void => {
        done = true;
        this.pending--;
        this.waiting.delete(entry);
      };
      const cb = (err: Error | undefined | null, value?: T): void => {
        if (done) return;
        finish();
        this.lastProgressAt = Date.now();
        if (err) reject(toRequestError(request, path, err));
        else resolve(value as T);
      };
      try {
        start(cb);
      } catch (err) {
        if (done) return;
        finish();
        reject(toRequestError(request, path, err));
      }
    });
  }

  /**
   * ssh2 silently drops a request made after the channel started closing (and never calls back),
   * which would leave it waiting for the request watchdog. Its channel state is internal, so an
   * ssh2 without it counts as open.
   */
  private channelOpen(): boolean {
    const state = (this.raw as unknown as { outgoing?: { state?: unknown } }).outgoing?.state;
    return state === undefined || state === 'open';
  }

  open(path: string, flags: 'r' | 'wx', mode = 0o644): Promise<Buffer> {
    return this.call('open', path, (cb) => this.raw.open(path, flags, { mode }, cb));
  }

  close(handle: Buffer, path: string): Promise<void> {
    return this.call('close', path, (cb) => this.raw.close(handle, cb));
  }

  stat(path: string): Promise<Stats> {
    return this.call('stat', path, (cb) => this.raw.stat(path, cb));
  }

  fstat(handle: Buffer, path: string): Promise<Stats> {
    return this.call('fstat', path, (cb) => this.raw.fstat(handle, cb));
  }

  mkdir(path: string): Promise<void> {
    return this.call('mkdir', path, (cb) => this.raw.mkdir(path, { mode: 0o755 }, cb));
  }

  readdir(path: string): Promise<FileEntryWithStats[]> {
    return this.call('readdir', path, (cb) => this.raw.readdir(path, cb));
  }

  unlink(path: string): Promise<void> {
    return this.call('remove', path, (cb) => this.raw.unlink(path, cb));
  }

  /** Plain SFTP v3 rename, which fails when the target exists. */
  rename(from: string, to: string): Promise<void> {
    return this.call('rename', `${from} to ${to}`, (cb) => this.raw.rename(from, to, cb));
  }

  /** posix-rename@openssh.com, which replaces the target atomically; false when the server lacks it. */
  async posixRename(from: string, to: string): Promise<boolean> {
    return this.optional(this.call('posix-rename', `${from} to ${to}`, (cb) => this.raw.ext_openssh_rename(from, to, cb)));
  }

  /** fsync@openssh.com; false when the server lacks it. */
  async fsync(handle: Buffer, path: string): Promise<boolean> {
    return this.optional(this.call('fsync', path, (cb) => this.raw.ext_openssh_fsync(handle, (err) => cb(err))));
  }

  /** Sets a file's modification and access times. */
  futimes(handle: Buffer, path: string, mtime: Date, atime: Date): Promise<void> {
    return this.call('setstat', path, (cb) => this.raw.futimes(handle, atime, mtime, cb));
  }

  /** statvfs@openssh.com on a path; null when the server lacks it. */
  async statvfs(path: string): Promise<RemoteFsSpace | null> {
    type Raw = Record<'f_frsize' | 'f_blocks' | 'f_bavail' | 'f_favail' | 'f_flag', number | bigint>;
    let raw: Raw | undefined;
    const ok = await this.optional(
      this.call<Raw>('statvfs', path, (cb) => this.raw.ext_openssh_statvfs(path, (err, info: Raw) => cb(err, info))).then((r) => void (raw = r)),
    );
    if (!ok || !raw) return null;
    const n = (v: number | bigint): number => Number(v);
    return {
      availableBytes: n(raw.f_bavail) * n(raw.f_frsize),
      totalBytes: n(raw.f_blocks) * n(raw.f_frsize),
      availableInodes: n(raw.f_favail),
      readOnly: (n(raw.f_flag) & ST_RDONLY) !== 0,
    };
  }

  /**
   * Runs `send` with the connection's socket corked, so the requests it makes leave in one socket
   * write instead of one each. ssh2 keeps its socket in an internal field: without it, no cork.
   */
  corked<T>(send: () => T): T {
    const sock = (this.raw as unknown as { _client?: { _sock?: { cork?: () => void; uncork?: () => void } } })._client?._sock;
    if (typeof sock?.cork !== 'function' || typeof sock.uncork !== 'function') return send();
    sock.cork();
    try {
      return send();
    } finally {
      sock.uncork();
    }
  }

  write(handle: Buffer, path: string, buf: Buffer, len: number, position: number): Promise<void> {
    return this.call('write', path, (cb) => this.raw.write(handle, buf, 0, len, position, (err) => cb(err)));
  }

  /** Reads up to `len` bytes; fewer (0 at the end) is not an error. */
  read(handle: Buffer, path: string, buf: Buffer, off: number, len: number, position: number): Promise<number> {
    return this.call<number>('read', path, (cb) => this.raw.read(handle, buf, off, len, position, (err, n) => cb(err, n)));
  }

  private async optional(p: Promise<void>): Promise<boolean> {
    try {
      await p;
      return true;
    } catch (err) {
      if (err instanceof SftpRequestError && (err.code === SFTP_STATUS.OP_UNSUPPORTED || UNSUPPORTED.test(err.message))) return false;
      throw err;
    }
  }
}

function toRequestError(request: string, path: string, err: unknown): SftpRequestError {
  const e = err as { code?: unknown; message?: string };
  const code = typeof e.code === 'number' ? e.code : null;
  return new SftpRequestError(request, path, code, e.message || String(err), { cause: err });
}

export interface TransferOptions {
  /** Bytes per request; 32 KiB suits every server (OpenSSH takes up to 256 KiB). */
  chunkSize: number;
  /** Requests in flight at once. */
  concurrency: number;
}

/**
 * Runs `transfer(pos, len, worker)` over `size` bytes in chunks, with up to `concurrency` in flight
 * at increasing offsets. `worker` numbers the parallel workers from 0, so a caller can give each
 * its own buffer to reuse. The first failure stops the others from taking new chunks, and every
 * worker has stopped before this returns (so the caller may close what they use).
 */
async function inChunks(size: number, opts: TransferOptions, transfer: (pos: number, len: number, worker: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (_: unknown, id: number): Promise<void> => {
    while (!failed && next < size) {
      const pos = next;
      const len = Math.min(opts.chunkSize, size - pos);
      next += len;
      try {
        await transfer(pos, len, id);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency, Math.ceil(size / opts.chunkSize)));
  const results = await Promise.allSettled(Array.from({ length: workers }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

export interface FinishOptions {
  mtime: Date;
  atime: Date;
  /** Ask for fsync@openssh.com before the close. */
  fsync: boolean;
}

/**
 * Writes a local file (of about `sizeHint` bytes) to an open remote handle, sets its times, fsyncs and closes
 * it. The server answers requests in order, so nothing after the open needs to wait for an answer
 * before the next is sent: a file that fits in one window of writes (chunk size times concurrency)
 * goes out as one batch, writes, times, fsync and close together, and costs one round trip. A larger
 * one streams with several writes in flight, and the last three requests then go together. Every
 * request has been answered when this returns, and the handle is closed whatever failed; the first
 * failure, in request order, is thrown. Returns whether the server did the fsync.
 */
export async function putAndClose(sftp: Sftp, handle: Buffer, remotePath: string, localPath: string, sizeHint: number, opts: TransferOptions, fin: FinishOptions): Promise<boolean> {
  const sent: Promise<unknown>[] = [];
  let fsynced: Promise<boolean> = Promise.resolve(false);
  const finish = (): void => {
    // After the last write, or the writes would bump the mtime again.
    sent.push(sftp.futimes(handle, remotePath, fin.mtime, fin.atime));
    if (fin.fsync) sent.push((fsynced = sftp.fsync(handle, remotePath)));
    sent.push(sftp.close(handle, remotePath));
  };
  try {
    const window = opts.chunkSize * opts.concurrency;
    // Small: read at once from staging (the page cache holds what was just written there).
    const data = sizeHint <= window ? readFileSync(localPath) : null;
    if (data && data.length <= window) {
      const size = data.length;
      sftp.corked(() => {
        for (let pos = 0; pos < size; pos += opts.chunkSize) {
          const len = Math.min(opts.chunkSize, size - pos);
          sent.push(sftp.write(handle, remotePath, data.subarray(pos, pos + len), len, pos));
        }
        finish();
      });
    } else {
      await putFile(sftp, handle, remotePath, localPath, opts);
      sftp.corked(finish);
    }
  } catch (err) {
    await Promise.allSettled(sent);
    if (sent.length === 0) await sftp.close(handle, remotePath).catch(() => undefined);
    throw err;
  }
  const results = await Promise.allSettled(sent);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return fsynced;
}

/**
 * Writes a local file to an open remote handle with several writes in flight, like ssh2's
 * fastPut, but on a handle we own so the caller can fsync, set times and rename.
 */
export async function putFile(sftp: Sftp, handle: Buffer, remotePath: string, localPath: string, opts: TransferOptions): Promise<number> {
  const fh: FileHandle = await fsp.open(localPath, 'r');
  try {
    const { size } = await fh.stat();
    // One buffer per worker, reused chunk after chunk: ssh2 copies a write's bytes into its packet
    // before it returns, and a worker reads its next chunk only once the last write was answered.
    // A fresh buffer per chunk allocated the file's whole size again for every upload.
    const buffers: Buffer[] = [];
    await inChunks(size, opts, async (pos, len, worker) => {
      const buf = (buffers[worker] ??= Buffer.allocUnsafeSlow(opts.chunkSize)).subarray(0, len);
      const { bytesRead } = await fh.read(buf, 0, len, pos);
      if (bytesRead !== len) throw new Error(`${localPath} changed size while it was uploaded`);
      await sftp.write(handle, remotePath, buf, len, pos);
    });
    return size;
  } finally {
    await fh.close();
  }
}

/** Reads `size` bytes of an open remote handle with parallel reads at offsets. */
export async function getFile(sftp: Sftp, handle: Buffer, remotePath: string, size: number, opts: TransferOptions): Promise<Buffer> {
  const out = Buffer.alloc(size);
  await inChunks(size, opts, (start, len) => readRange(sftp, handle, remotePath, out, start, start, len, size));
  return out;
}

/**
 * Yields bytes `from`..`size` of an open remote handle in order, with up to `concurrency` reads
 * in flight ahead of the consumer: memory stays at a few chunks whatever the file's size.
 */
export async function* streamFile(sftp: Sftp, handle: Buffer, remotePath: string, from: number, size: number, opts: TransferOptions): AsyncGenerator<Buffer> {
  const pending: Promise<Buffer>[] = [];
  let next = from;
  // Reads are asked for in batches, one socket write each, once half the window is consumed: one
  // write per read was the main thread's costliest system call in a restore (4,096 of them for
  // 512 MB, each waking the server). Between half and all of the window stays in flight.
  const refillAt = Math.floor(opts.concurrency / 2);
  const issue = (): void =>
    sftp.corked(() => {
      while (pending.length < opts.concurrency && next < size) {
        const pos = next;
        const len = Math.min(opts.chunkSize, size - pos);
        next += len;
        const buf = Buffer.allocUnsafe(len);
        const p = readRange(sftp, handle, remotePath, buf, 0, pos, len, size).then(() => buf);
        p.catch(() => undefined); // surfaces when its turn comes
        pending.push(p);
      }
    });
  issue();
  while (pending.length > 0) {
    const buf = await pending.shift()!;
    if (pending.length <= refillAt) issue();
    yield buf;
  }
}

/** Fills `out[at..at+len]` from the remote file at `pos`; a server may answer with less than asked. */
async function readRange(sftp: Sftp, handle: Buffer, remotePath: string, out: Buffer, at: number, pos: number, len: number, size: number): Promise<void> {
  for (let done = 0; done < len; ) {
    const n = await sftp.read(handle, remotePath, out, at + done, len - done, pos + done);
    if (n === 0) throw new SftpRequestError('read', remotePath, SFTP_STATUS.EOF, `file ended at ${pos + done} bytes, expected ${size}`);
    done += n;
  }
}
