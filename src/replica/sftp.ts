// A replica on an SFTP server, laid out as Litestream's sftp backend lays it out:
// <path>/ltx/<level>/<min>-<max>.ltx, each file's mtime set to its header timestamp.
//
// This file is about the replica: paths, atomic uploads, exclusive placement, listing, reads,
// deletes and the temporary files interrupted uploads leave. The connection it runs on (connect,
// host key, keepalive, watchdog, reconnect, close, one retry on a lost connection) is
// sftp-session.ts, shared by every client of the same endpoint (sftp-pool.ts); after each connect the session calls back here to clean up temporary files
// (sftp-temp-files.ts).
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import type { SftpSettings } from '../config/types.js';
import { ReplicaConflictError, type FenceRead, type LtxFileInfo, type ReplicaClient } from './client.js';
import { fenceVersion } from './fence-version.js';
import { describeFile, fenceFilePath, levelDir, ltxFilePath, parseLtxFileName, tempFileName, type LtxFileId } from './layout.js';
import { checkHostKeySettings } from './sftp-connect.js';
import { explainRefusal, isRefusal } from './sftp-errors.js';
import { getFile, putAndClose, type RemoteFsSpace, SFTP_STATUS, SftpRequestError, sftpStatus, streamFile, type TransferOptions } from './sftp-io.js';
import { SftpLease } from './sftp-pool.js';
import type { SftpConnection, SftpSessionOptions } from './sftp-session.js';
import { SftpTempFiles } from './sftp-temp-files.js';
import { uniqueToken } from '../util/unique-token.js';

export interface SftpReplicaOptions extends SftpSessionOptions {
  /** Reads or writes in flight per transferred file. */
  transferConcurrency?: number;
  /** Bytes per write request. */
  chunkSize?: number;
  /** Bytes per read request: larger reads measured 2-3x faster downloads through ssh2 than 32 KiB. */
  readChunkSize?: number;
  /**
   * OpenSSH extensions to use when the server offers them (both default to true). Turning one off
   * exercises the fallback, or avoids a server's broken implementation.
   */
  extensions?: { posixRename?: boolean; fsync?: boolean };
  /** Temporary files nobody touched for this long are swept (temp-files.ts); 15 minutes by default. */
  tempFileMaxAgeMs?: number;
  /** A sweep that failed is tried again this much later, at a write. */
  sweepRetryMs?: number;
}

export class SftpReplicaClient implements ReplicaClient {
  readonly type = 'sftp';
  readonly location: string;
  private readonly root: string;
  private readonly log: Logger | undefined;
  private readonly transfer: TransferOptions;
  private readonly download: TransferOptions;
  /** This client's share of the endpoint's one connection (sftp-pool.ts). */
  private readonly session: SftpLease;
  private readonly temps: SftpTempFiles;
  /** Directories known to exist on the current connection, so uploads do not stat them every time. */
  private readonly dirs = new Set<string>();
  private warnedNoFsync = false;

  constructor(
    settings: SftpSettings,
    remotePath: string,
    private readonly opts: SftpReplicaOptions = {},
  ) {
    this.root = normalizeRoot(remotePath);
    const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
    this.location = `sftp://${encodeURIComponent(settings.user)}@${host}:${settings.port}${this.root.startsWith('/') ? '' : '/'}${this.root}`;
    this.log = opts.logger?.child({ replica: this.location });
    this.transfer = { chunkSize: opts.chunkSize ?? 32 * 1024, concurrency: opts.transferConcurrency ?? 16 };
    this.download = { chunkSize: opts.readChunkSize ?? 128 * 1024, concurrency: opts.transferConcurrency ?? 16 };
    this.session = new SftpLease(
      settings,
      this.location,
      {
        // A new connection knows no directories, and is a time to clean up.
        afterConnect: (c) => {
          this.dirs.clear();
          return this.temps.afterConnect(c);
        },
        wantsCleanupAtClose: () => this.temps.hasOrphans,
        cleanupAtClose: (c) => this.temps.removeOrphans(c),
      },
      { ...opts, logger: this.log },
    );
    this.temps = new SftpTempFiles(this.root, this.log, (t) => this.session.scrub(t), { maxAgeMs: opts.tempFileMaxAgeMs, retryMs: opts.sweepRetryMs });
    try {
      // A malformed host-key is a configuration error: report it now rather than on first use.
      checkHostKeySettings(settings);
    } catch (err) {
      throw this.session.fail('configure', err);
    }
  }

  private levelDir(level: number): string {
    return levelDir(this.root, level);
  }

  private filePath(info: LtxFileId): string {
    return ltxFilePath(this.root, info);
  }

  async listLtxFiles(level: number): Promise<LtxFileInfo[]> {
    const dir = this.levelDir(level);
    return this.session.run(`list ltx/${level}`, async (c) => {
      let entries;
      try {
        entries = await c.sftp.readdir(dir);
      } catch (err) {
        if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return [];
        throw err;
      }
      const out: LtxFileInfo[] = [];
      for (const e of entries) {
        const r = parseLtxFileName(e.filename);
        if (!r || !e.attrs.isFile()) continue;
        // SFTP v3 times are whole seconds, as in Litestream's sftp replicas.
        out.push({ level, ...r, size: e.attrs.size, createdAt: new Date(e.attrs.mtime * 1000) });
      }
      return out.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
    });
  }

  async writeLtxFile(info: LtxFileInfo, localPath: string, opts: { exclusive?: boolean } = {}): Promise<void> {
    const final = this.filePath(info);
    const dir = posix.dirname(final);
    await this.writing(`write ${describeFile(info)}`, async (c) => {
      // Same directory, so the rename stays on one filesystem; the name never parses as an LTX file.
      const tmp = tempFileName(final, uniqueToken());
      const upload = this.temps.inFlight(tmp);
      try {
        let handle: Buffer;
        try {
          handle = await this.createFile(c, dir, tmp);
        } catch (err) {
          // No answer: the server may have created the file before the connection went.
          if (sftpStatus(err) === null) await this.temps.discard(c, tmp);
          throw await this.explain(c, err, dir);
        }
        try {
          // The atime is the upload's own time, so a sweep never takes an upload in progress for a leftover.
          const fsync = this.opts.extensions?.fsync !== false;
          const fsynced = await putAndClose(c.sftp, handle, tmp, localPath, info.size, this.transfer, { mtime: info.createdAt, atime: new Date(), fsync });
          if (fsync && !fsynced) this.noteNoFsync();
          if (opts.exclusive) await this.placeExclusive(c, info, tmp, final, localPath);
          else await this.replace(c, tmp, final);
        } catch (err) {
          // Asked before the partial file goes: the space it holds is part of the answer.
          const explained = await this.explain(c, err, dir);
          await this.temps.discard(c, tmp);
          throw explained;
        }
      } finally {
        upload.done();
      }
    });
  }

  async readLtxFile(info: LtxFileId): Promise<Buffer> {
    const file = this.filePath(info);
    return this.session.run(`read ${describeFile(info)}`, async (c) => {
      const handle = await c.sftp.open(file, 'r');
      try {
        const { size } = await c.sftp.fstat(handle, file);
        return await getFile(c.sftp, handle, file, size, this.download);
      } finally {
        await c.sftp.close(handle, file).catch(() => undefined);
      }
    });
  }

  /**
   * Streams a file with reads pipelined ahead of the consumer. A connection lost midway is
   * reopened once and the stream resumes at the byte it had reached.
   */
  async *streamLtxFile(info: LtxFileId): AsyncGenerator<Buffer> {
    const file = this.filePath(info);
    const what = `read ${describeFile(info)}`;
    let offset = 0;
    let size = -1;
    let retried = false;
    for (;;) {
      const suffix = retried ? ' (after reconnecting once; the connection was lost midway)' : '';
      const c = await this.session.acquire(what, suffix);
      let handle: Buffer | null = null;
      try {
        handle = await c.sftp.open(file, 'r');
        if (size < 0) size = (await c.sftp.fstat(handle, file)).size;
        for await (const chunk of streamFile(c.sftp, handle, file, offset, size, this.download)) {
          offset += chunk.length;
          yield chunk;
        }
        return;
      } catch (err) {
        if (!retried && (await this.session.shouldRetry(c, err))) {
          retried = true;
          this.log?.info({ event: 'sftp_retry', op: what, offset }, 'connection lost during a download; resuming on a new connection');
          continue;
        }
        throw this.session.fail(what, err, suffix);
      } finally {
        if (handle && !c.lost) await c.sftp.close(handle, file).catch(() => undefined);
      }
    }
  }

  async deleteLtxFiles(infos: LtxFileInfo[]): Promise<void> {
    if (infos.length === 0) return;
    const what = infos.length === 1 ? `delete ${describeFile(infos[0]!)}` : `delete ${infos.length} files from ltx/${infos[0]!.level}`;
    await this.writing(what, async (c) => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < infos.length) {
          const path = this.filePath(infos[next++]!);
          await c.sftp.unlink(path).catch((err: unknown) => {
            if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, infos.length) }, worker));
    });
  }

  async readFence(): Promise<FenceRead | null> {
    return this.session.run('read the fence record', (c) => this.readFenceOn(c, fenceFilePath(this.root)));
  }

  async writeFence(text: string, expected: string | null): Promise<boolean> {
    const final = fenceFilePath(this.root);
    const tmp = `${final}.${uniqueToken()}.tmp`;
    return this.session.run('write the fence record', async (c) => {
      await this.mkdirp(c, this.root);
      const handle = await c.sftp.open(tmp, 'wx');
      try {
        const data = Buffer.from(text);
        await c.sftp.write(handle, tmp, data, data.length, 0);
        if (this.opts.extensions?.fsync !== false) await c.sftp.fsync(handle, tmp);
      } finally {
        await c.sftp.close(handle, tmp).catch(() => undefined);
      }
      try {
        if (expected === null) {
          // SFTP v3 RENAME refuses an existing target (OpenSSH links): two creators cannot both win.
          try {
            await c.sftp.rename(tmp, final);
            return true;
          } catch (err) {
            if (sftpStatus(err) === null) throw err;
            if (await c.sftp.stat(final).catch(() => null)) return false;
            throw err;
          }
        }
        if ((await this.readFenceOn(c, final))?.version !== expected) return false;
        await this.replace(c, tmp, final);
        return true;
      } finally {
        await c.sftp.unlink(tmp).catch(() => undefined);
      }
    });
  }

  private async readFenceOn(c: SftpConnection, file: string): Promise<FenceRead | null> {
    let handle: Buffer;
    try {
      handle = await c.sftp.open(file, 'r');
    } catch (err) {
      if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return null;
      throw err;
    }
    try {
      const { size } = await c.sftp.fstat(handle, file);
      const text = (await getFile(c.sftp, handle, file, size, this.download)).toString('utf8');
      return { text, version: fenceVersion(text) };
    } finally {
      await c.sftp.close(handle, file).catch(() => undefined);
    }
  }

  async sweepTemporaryFiles(olderThanMs: number): Promise<number> {
    return this.session.run('sweep temporary files', async (c) => {
      await this.temps.removeOrphans(c);
      const { removed, errors } = await this.temps.sweep(c, olderThanMs);
      if (errors.length > 0) throw errors[0];
      return removed.length;
    });
  }

  /**
   * Waits up to `graceMs` for operations in flight, then ends the connection under whatever still
   * runs (its requests fail at once). Removes leftover temporary files if the server answers, and
   * ends the connection. A later operation connects again.
   */
  close(graceMs?: number): Promise<void> {
    return this.session.close(graceMs);
  }

  retryNow(): void {
    this.session.retryNow();
  }

  /**
   * Runs a write or delete; afterwards, on a live connection, the sweep of stale temporary files
   * when one is due (after a connect, or when a leftover turned stale). A reader never sweeps.
   */
  private writing<T>(what: string, op: (c: SftpConnection) => Promise<T>): Promise<T> {
    return this.session.run(what, async (c) => {
      try {
        return await op(c);
      } finally {
        if (!c.lost) await this.temps.sweepIfDue(c);
      }
    });
  }

  // --- uploads ----------------------------------------------------------------------------------

  /** Opens the temporary file, creating the directory tree when it is missing (or vanished). */
  private async createFile(c: SftpConnection, dir: string, tmp: string): Promise<Buffer> {
    await this.mkdirp(c, dir);
    try {
      return await c.sftp.open(tmp, 'wx');
    } catch (err) {
      if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
      this.dirs.clear();
      await this.mkdirp(c, dir);
      return await c.sftp.open(tmp, 'wx');
    }
  }

  /** mkdir -p: stat from the leaf up, create downwards. A concurrent creator winning the race is fine. */
  private async mkdirp(c: SftpConnection, dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    try {
      const st = await c.sftp.stat(dir);
      if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    } catch (err) {
      if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
      const parent = posix.dirname(dir);
      if (parent !== dir) await this.mkdirp(c, parent);
      try {
        await c.sftp.mkdir(dir);
      } catch (mkdirErr) {
        const st = await c.sftp.stat(dir).catch(() => null);
        if (!st?.isDirectory()) throw mkdirErr;
      }
    }
    this.dirs.add(dir);
  }

  /**
   * Moves the finished temporary file onto its final name. posix-rename@openssh.com replaces an
   * existing target atomically. Without it, SFTP v3 RENAME refuses an existing target, so the
   * fallback removes the target and renames again: between the two a reader can find the name
   * missing (never partial). A name is only rewritten when the same TXID range is uploaded again.
   */
  private async replace(c: SftpConnection, tmp: string, final: string): Promise<void> {
    if (this.opts.extensions?.posixRename !== false && (await c.sftp.posixRename(tmp, final))) return;
    try {
      await c.sftp.rename(tmp, final);
    } catch (err) {
      if (sftpStatus(err) === null) throw err;
      await c.sftp.unlink(final).catch((e: unknown) => {
        if (sftpStatus(e) !== SFTP_STATUS.NO_SUCH_FILE) throw e;
      });
      await c.sftp.rename(tmp, final);
    }
  }

  /**
   * Moves the temporary file onto a name that must not exist yet. SFTP v3 RENAME refuses an existing
   * target (OpenSSH links, then unlinks); if the target is there with the same bytes, it is an
   * earlier upload of ours whose answer was lost, otherwise another replicator wrote it.
   */
  private async placeExclusive(c: SftpConnection, info: LtxFileInfo, tmp: string, final: string, localPath: string): Promise<void> {
    try {
      await c.sftp.rename(tmp, final);
      return;
    } catch (err) {
      if (sftpStatus(err) === null) throw err;
      const existing = await c.sftp.stat(final).catch(() => null);
      if (!existing) throw err;
    }
    const handle = await c.sftp.open(final, 'r');
    let theirs: Buffer;
    try {
      const { size } = await c.sftp.fstat(handle, final);
      theirs = await getFile(c.sftp, handle, final, size, this.download);
    } finally {
      await c.sftp.close(handle, final).catch(() => undefined);
    }
    await this.temps.discard(c, tmp);
    if (!theirs.equals(await readFile(localPath))) {
      throw new ReplicaConflictError(this.location, `${describeFile(info)} already exists with different contents: another replicator is writing to this replica`);
    }
  }

  /**
   * A refused write, with what it likely means (disk full, read-only, permissions) added; the
   * filesystem's space is asked for when the server offers statvfs. Anything else as it was.
   */
  private async explain(c: SftpConnection, err: unknown, dir: string): Promise<unknown> {
    if (!(err instanceof SftpRequestError) || !isRefusal(err.code, err.request) || c.lost) return err;
    const space = err.code === SFTP_STATUS.FAILURE ? await withinMs(this.spaceNear(c, dir), 5_000) : null;
    const hint = explainRefusal(err.code, err.request, dir, space);
    return hint ? err.withHint(hint) : err;
  }

  /** statvfs of `dir`, or of its nearest parent that exists (a level directory may not yet). */
  private async spaceNear(c: SftpConnection, dir: string): Promise<RemoteFsSpace | null> {
    for (let d = dir, i = 0; i < 4; i++) {
      try {
        return await c.sftp.statvfs(d);
      } catch (err) {
        if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE || posix.dirname(d) === d) return null;
        d = posix.dirname(d);
      }
    }
    return null;
  }

  private noteNoFsync(): void {
    if (this.warnedNoFsync) return;
    this.warnedNoFsync = true;
    this.log?.warn({ event: 'sftp_no_fsync' }, 'server does not offer fsync@openssh.com; uploads are renamed without a remote fsync');
  }
}

function normalizeRoot(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** The promise's value, or null if it takes longer than `ms`. */
async function withinMs<T>(p: Promise<T | null>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
