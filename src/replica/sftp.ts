// A replica on an SFTP server, laid out as Litestream's sftp backend lays it out:
// <path>/ltx/<level>/<min>-<max>.ltx, each file's mtime set to its header timestamp.
//
// One connection per client, opened on first use and shared by concurrent operations (SFTP requests
// are multiplexed by id). A lost connection is noticed through its close event or keepalives and
// reopened on next use; consecutive failed connects wait an exponential backoff with jitter.
import { setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { posix } from 'node:path';
import type { Logger } from 'pino';
import ssh2, { type AuthenticationType, type Client, type ConnectConfig } from 'ssh2';
import type { SftpSettings } from '../config/types.js';
import { Backoff } from '../util/backoff.js';
import { ReplicaConflictError, ReplicaError, type LtxFileInfo, type ReplicaClient } from './client.js';
import { describeFile, levelDir, ltxFilePath, parseLtxFileName, tempFileName, type LtxFileId } from './layout.js';
import { type HostKeyError, hostKeyPolicy, loadHostKeyCheck } from './host-key.js';
import { fingerprint } from './known-hosts.js';
import { loadCredentials, type SftpCredentials } from './sftp-auth.js';
import { getFile, putFile, Sftp, SFTP_STATUS, SftpRequestError, sftpStatus, streamFile, type TransferOptions } from './sftp-io.js';

export interface SftpReplicaOptions {
  logger?: Logger;
  /** SSH keepalive period; a connection is dropped after keepaliveCountMax unanswered ones. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Time allowed for TCP connect, key exchange and authentication. */
  readyTimeoutMs?: number;
  /** Reads or writes in flight per transferred file. */
  transferConcurrency?: number;
  /** Bytes per write request. */
  chunkSize?: number;
  /** Bytes per read request: larger reads measured 2-3x faster downloads through ssh2 than 32 KiB. */
  readChunkSize?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** How long close() waits for operations in flight before ending the connection anyway. */
  closeTimeoutMs?: number;
  /**
   * A connection whose SFTP requests get no answer at all for this long is dropped and reopened,
   * even though keepalives still pass (a wedged server process, a stuck channel).
   */
  requestTimeoutMs?: number;
  /**
   * OpenSSH extensions to use when the server offers them (both default to true). Turning one off
   * exercises the fallback, or avoids a server's broken implementation.
   */
  extensions?: { posixRename?: boolean; fsync?: boolean };
}

interface Session {
  conn: Client;
  sftp: Sftp;
  lost: boolean;
  /** Aborted on loss, failing every request still in flight. */
  loss: AbortController;
  /** We are ending it on purpose; its close is not a loss worth a warning. */
  ending: boolean;
  /** Directories known to exist, so uploads do not stat the same path every time. */
  dirs: Set<string>;
}

class ClosedError extends Error {
  override name = 'ClosedError';
}

export class SftpReplicaClient implements ReplicaClient {
  readonly type = 'sftp';
  readonly location: string;
  private readonly root: string;
  private readonly log: Logger | undefined;
  private readonly transfer: TransferOptions;
  private readonly download: TransferOptions;
  private readonly backoff: Backoff;
  private readonly secrets: string[];
  private current: Session | null = null;
  private connecting: Promise<Session> | null = null;
  private nextConnectAt = 0;
  private stop = new AbortController();
  private closing = false;
  /** Set while a connect waits out its backoff; aborting it skips the rest of the wait. */
  private backoffSkip: AbortController | null = null;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Temporary files a lost connection kept us from removing; removed after the next connect. */
  private readonly orphans = new Set<string>();
  private warnedNoFsync = false;

  constructor(
    private readonly settings: SftpSettings,
    remotePath: string,
    private readonly opts: SftpReplicaOptions = {},
  ) {
    this.root = normalizeRoot(remotePath);
    const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
    this.location = `sftp://${encodeURIComponent(settings.user)}@${host}:${settings.port}${this.root.startsWith('/') ? '' : '/'}${this.root}`;
    this.log = opts.logger?.child({ replica: this.location });
    this.transfer = { chunkSize: opts.chunkSize ?? 32 * 1024, concurrency: opts.transferConcurrency ?? 16 };
    this.download = { chunkSize: opts.readChunkSize ?? 128 * 1024, concurrency: opts.transferConcurrency ?? 16 };
    this.backoff = new Backoff(opts.reconnectBaseMs ?? 250, opts.reconnectMaxMs ?? 5_000);
    this.secrets = [settings.password, settings.keyPassphrase].filter((s): s is string => !!s);
    try {
      // A malformed host-key is a configuration error: report it now rather than on first use.
      hostKeyPolicy(settings, homeDir());
    } catch (err) {
      throw this.fail('configure', err);
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
    return this.run(`list ltx/${level}`, async (s) => {
      let entries;
      try {
        entries = await s.sftp.readdir(dir);
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
    await this.run(`write ${describeFile(info)}`, async (s) => {
      // Same directory, so the rename stays on one filesystem; the name never parses as an LTX file.
      const tmp = tempFileName(final, randomBytes(4).toString('hex'));
      let handle: Buffer;
      try {
        handle = await this.createFile(s, dir, tmp);
      } catch (err) {
        // No answer: the server may have created the file before the connection went.
        if (sftpStatus(err) === null) await this.discard(s, tmp);
        throw err;
      }
      try {
        let ok = false;
        try {
          await putFile(s.sftp, handle, tmp, localPath, this.transfer);
          // After the last write, or the writes would bump the mtime again.
          await s.sftp.futimes(handle, tmp, info.createdAt);
          if (this.opts.extensions?.fsync !== false && !(await s.sftp.fsync(handle, tmp))) this.noteNoFsync();
          ok = true;
        } finally {
          const closing = s.sftp.close(handle, tmp);
          if (ok) await closing;
          else await closing.catch(() => undefined);
        }
        if (opts.exclusive) await this.placeExclusive(s, info, tmp, final, localPath);
        else await this.replace(s, tmp, final);
      } catch (err) {
        await this.discard(s, tmp);
        throw err;
      }
    });
  }

  async readLtxFile(info: LtxFileId): Promise<Buffer> {
    const file = this.filePath(info);
    return this.run(`read ${describeFile(info)}`, async (s) => {
      const handle = await s.sftp.open(file, 'r');
      try {
        const { size } = await s.sftp.fstat(handle, file);
        return await getFile(s.sftp, handle, file, size, this.download);
      } finally {
        await s.sftp.close(handle, file).catch(() => undefined);
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
      const s = await this.sessionFor(what, suffix);
      let handle: Buffer | null = null;
      try {
        handle = await s.sftp.open(file, 'r');
        if (size < 0) size = (await s.sftp.fstat(handle, file)).size;
        for await (const chunk of streamFile(s.sftp, handle, file, offset, size, this.download)) {
          offset += chunk.length;
          yield chunk;
        }
        return;
      } catch (err) {
        if (!retried && !this.closing && (await this.wasLost(s, err))) {
          retried = true;
          this.log?.info({ event: 'sftp_retry', op: what, offset }, 'connection lost during a download; resuming on a new connection');
          continue;
        }
        throw this.fail(what, err, suffix);
      } finally {
        if (handle && !s.lost) await s.sftp.close(handle, file).catch(() => undefined);
      }
    }
  }

  async deleteLtxFiles(infos: LtxFileInfo[]): Promise<void> {
    if (infos.length === 0) return;
    const what = infos.length === 1 ? `delete ${describeFile(infos[0]!)}` : `delete ${infos.length} files from ltx/${infos[0]!.level}`;
    await this.run(what, async (s) => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < infos.length) {
          const path = this.filePath(infos[next++]!);
          await s.sftp.unlink(path).catch((err: unknown) => {
            if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, infos.length) }, worker));
    });
  }

  /**
   * Waits up to `graceMs` for operations in flight, then ends the connection under whatever still
   * runs (its requests fail at once). Removes leftover temporary files if the server answers, and
   * ends the connection. A later operation connects again.
   */
  async close(graceMs = this.opts.closeTimeoutMs ?? 15_000): Promise<void> {
    const started = Date.now();
    // No new connects and no retries from here; an operation waiting out a backoff tries at once.
    this.closing = true;
    this.retryNow();
    try {
      if (this.inflight.size > 0 && !(await settledWithin([...this.inflight], graceMs))) {
        const s = this.current;
        this.log?.warn(
          { event: 'sftp_close_cut', operations: this.inflight.size, ...(s && !s.lost ? { stalledMs: s.sftp.stalledForMs(), ...s.sftp.stallReport() } : {}) },
          'operations still running at close; ending the connection under them',
        );
        this.stop.abort();
        if (s && !s.lost) s.conn.destroy();
        await settledWithin([...this.inflight], 2_000);
      }
      await this.connecting?.catch(() => undefined);
      let s = this.current;
      this.current = null;
      if ((!s || s.lost) && this.orphans.size > 0) {
        // One short attempt to remove what an interrupted upload left; the server may well be gone.
        const budget = Math.max(1_000, Math.min(5_000, graceMs - (Date.now() - started)));
        s = await this.open(Math.min(budget, this.opts.readyTimeoutMs ?? 20_000), new AbortController().signal).catch(() => null);
      }
      if (!s || s.lost) return;
      // A server that stopped answering must not hold the close up.
      if (!(await settledWithin([this.sweepOrphans(s)], 5_000))) s.conn.destroy();
      await this.end(s);
    } finally {
      this.closing = false;
      this.stop = new AbortController();
    }
  }

  private end(s: Session): Promise<void> {
    s.ending = true;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.conn.destroy();
        resolve();
      }, 2_000);
      s.conn.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.conn.end();
    });
  }

  retryNow(): void {
    this.nextConnectAt = 0;
    this.backoffSkip?.abort();
  }

  // --- operations -------------------------------------------------------------------------------

  /**
   * Runs an operation on the shared session. Every operation is idempotent, so one that failed
   * because the connection dropped under it runs once more on a fresh connection.
   */
  private run<T>(what: string, op: (s: Session) => Promise<T>): Promise<T> {
    const task = (async (): Promise<T> => {
      let retried = false;
      for (;;) {
        const suffix = retried ? ' (on the second attempt; the connection was lost during the first)' : '';
        const s = await this.sessionFor(what, suffix);
        try {
          return await op(s);
        } catch (err) {
          if (!retried && !this.closing && (await this.wasLost(s, err))) {
            retried = true;
            this.log?.info({ event: 'sftp_retry', op: what }, 'connection lost during an operation; retrying once on a new connection');
            continue;
          }
          throw this.fail(what, err, suffix);
        }
      }
    })();
    this.inflight.add(task);
    void task.then(
      () => this.inflight.delete(task),
      () => this.inflight.delete(task),
    );
    return task;
  }

  /**
   * A request that got no answer (status code null) failed because the transport went away. ssh2 may
   * fail the request a moment before it emits close, so give it that moment.
   */
  private async wasLost(s: Session, err: unknown): Promise<boolean> {
    if (s.lost) return true;
    if (!(err instanceof SftpRequestError) || err.code !== null) return false;
    for (let i = 0; i < 20 && !s.lost; i++) await delay(10);
    return s.lost;
  }

  /** Opens the temporary file, creating the directory tree when it is missing (or vanished). */
  private async createFile(s: Session, dir: string, tmp: string): Promise<Buffer> {
    await this.mkdirp(s, dir);
    try {
      return await s.sftp.open(tmp, 'wx');
    } catch (err) {
      if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
      s.dirs.clear();
      await this.mkdirp(s, dir);
      return await s.sftp.open(tmp, 'wx');
    }
  }

  /** mkdir -p: stat from the leaf up, create downwards. A concurrent creator winning the race is fine. */
  private async mkdirp(s: Session, dir: string): Promise<void> {
    if (s.dirs.has(dir)) return;
    try {
      const st = await s.sftp.stat(dir);
      if (!st.isDirectory()) throw new Error(`${dir} exists and is not a directory`);
    } catch (err) {
      if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
      const parent = posix.dirname(dir);
      if (parent !== dir) await this.mkdirp(s, parent);
      try {
        await s.sftp.mkdir(dir);
      } catch (mkdirErr) {
        const st = await s.sftp.stat(dir).catch(() => null);
        if (!st?.isDirectory()) throw mkdirErr;
      }
    }
    s.dirs.add(dir);
  }

  /**
   * Moves the finished temporary file onto its final name. posix-rename@openssh.com replaces an
   * existing target atomically. Without it, SFTP v3 RENAME refuses an existing target, so the
   * fallback removes the target and renames again: between the two a reader can find the name
   * missing (never partial). A name is only rewritten when the same TXID range is uploaded again.
   */
  private async replace(s: Session, tmp: string, final: string): Promise<void> {
    if (this.opts.extensions?.posixRename !== false && (await s.sftp.posixRename(tmp, final))) return;
    try {
      await s.sftp.rename(tmp, final);
    } catch (err) {
      if (sftpStatus(err) === null) throw err;
      await s.sftp.unlink(final).catch((e: unknown) => {
        if (sftpStatus(e) !== SFTP_STATUS.NO_SUCH_FILE) throw e;
      });
      await s.sftp.rename(tmp, final);
    }
  }

  /**
   * Moves the temporary file onto a name that must not exist yet. SFTP v3 RENAME refuses an existing
   * target (OpenSSH links, then unlinks); if the target is there with the same bytes, it is an
   * earlier upload of ours whose answer was lost, otherwise another replicator wrote it.
   */
  private async placeExclusive(s: Session, info: LtxFileInfo, tmp: string, final: string, localPath: string): Promise<void> {
    try {
      await s.sftp.rename(tmp, final);
      return;
    } catch (err) {
      if (sftpStatus(err) === null) throw err;
      const existing = await s.sftp.stat(final).catch(() => null);
      if (!existing) throw err;
    }
    const handle = await s.sftp.open(final, 'r');
    let theirs: Buffer;
    try {
      const { size } = await s.sftp.fstat(handle, final);
      theirs = await getFile(s.sftp, handle, final, size, this.download);
    } finally {
      await s.sftp.close(handle, final).catch(() => undefined);
    }
    await this.discard(s, tmp);
    if (!theirs.equals(await readFile(localPath))) {
      throw new ReplicaConflictError(this.location, `${describeFile(info)} already exists with different contents: another replicator is writing to this replica`);
    }
  }

  /** Removes a temporary file after a failure; if the connection is gone, after the next connect. */
  private async discard(s: Session, tmp: string): Promise<void> {
    if (!s.lost) {
      try {
        await s.sftp.unlink(tmp);
        return;
      } catch (err) {
        if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return;
      }
    }
    this.orphans.add(tmp);
  }

  private async sweepOrphans(s: Session): Promise<void> {
    for (const tmp of [...this.orphans]) {
      try {
        await s.sftp.unlink(tmp);
        this.orphans.delete(tmp);
      } catch (err) {
        const code = sftpStatus(err);
        if (code === SFTP_STATUS.NO_SUCH_FILE) this.orphans.delete(tmp);
        else if (code === null) return;
        else this.log?.warn({ event: 'sftp_tmp_left', file: tmp, err: this.scrub(errorMessage(err)) }, 'cannot remove a temporary file');
      }
    }
  }

  private noteNoFsync(): void {
    if (this.warnedNoFsync) return;
    this.warnedNoFsync = true;
    this.log?.warn({ event: 'sftp_no_fsync' }, 'server does not offer fsync@openssh.com; uploads are renamed without a remote fsync');
  }

  // --- connection -------------------------------------------------------------------------------

  /** The shared session, or a ReplicaError naming the operation that needed it. */
  private async sessionFor(what: string, suffix: string): Promise<Session> {
    try {
      return await this.session();
    } catch (err) {
      throw this.fail(what, err, suffix);
    }
  }

  private session(): Promise<Session> {
    if (this.current && !this.current.lost) return Promise.resolve(this.current);
    if (this.closing) return Promise.reject(new ClosedError('client is closing'));
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<Session> {
    const wait = this.nextConnectAt - Date.now();
    const stop = this.stop.signal;
    if (wait > 0) {
      const skip = (this.backoffSkip = new AbortController());
      try {
        await abortableDelay(wait, stop, skip.signal);
      } finally {
        this.backoffSkip = null;
      }
    }
    let s: Session;
    try {
      s = await this.open(this.opts.readyTimeoutMs ?? 20_000, stop);
    } catch (err) {
      this.nextConnectAt = Date.now() + this.backoff.next();
      throw err;
    }
    this.backoff.reset();
    this.nextConnectAt = 0;
    this.current = s;
    if (this.orphans.size > 0) await this.sweepOrphans(s);
    return s;
  }

  /** Connects and starts the SFTP subsystem; `stop` aborting gives up at once. */
  private async open(readyTimeoutMs: number, stop: AbortSignal): Promise<Session> {
    const { host, port, user } = this.settings;
    const home = homeDir();
    const policy = hostKeyPolicy(this.settings, home);
    const creds = await loadCredentials(this.settings, home);
    const hostCheck = await loadHostKeyCheck(policy, host, port);
    return new Promise<Session>((resolve, reject) => {
      const conn = new ssh2.Client();
      let refused: HostKeyError | null = null;
      let hostKey = '';
      let settled = false;
      const onStop = (): void => {
        conn.destroy();
        fail(new ClosedError('client closed while connecting'));
      };
      const fail = (err: Error): void => {
        stop.removeEventListener('abort', onStop);
        if (settled) return;
        settled = true;
        conn.end();
        reject(err instanceof ClosedError ? err : (refused ?? this.connectError(err, creds)));
      };
      if (stop.aborted) return onStop();
      stop.addEventListener('abort', onStop, { once: true });
      // Stays attached for the connection's life, so a late error is never unhandled.
      conn.on('error', fail);
      conn.on('close', () => fail(new Error('connection closed before the SFTP session started')));
      conn.on('ready', () => {
        // The handshake is done, but the subsystem request has no timeout of its own.
        const subsystemTimer = setTimeout(() => {
          fail(new Error(`the server did not start the SFTP subsystem within ${readyTimeoutMs} ms`));
          conn.destroy();
        }, readyTimeoutMs);
        conn.sftp((err, raw) => {
          clearTimeout(subsystemTimer);
          if (err) return fail(err);
          if (settled) return void conn.end();
          settled = true;
          stop.removeEventListener('abort', onStop);
          const loss = new AbortController();
          // Every request in flight listens for the loss; dozens at once are normal, not a leak.
          setMaxListeners(0, loss.signal);
          const s: Session = { conn, sftp: new Sftp(raw, loss.signal), lost: false, loss, ending: false, dirs: new Set() };
          this.watch(s, raw);
          this.log?.info({ event: 'sftp_connected', hostKey }, 'sftp connected');
          resolve(s);
        });
      });
      const config: ConnectConfig = {
        host,
        port,
        username: user,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: this.opts.keepaliveIntervalMs ?? 10_000,
        keepaliveCountMax: this.opts.keepaliveCountMax ?? 3,
        authHandler: authMethods(creds),
        hostVerifier: (key: Buffer): boolean => {
          hostKey = fingerprint(key);
          if (policy.kind === 'insecure') this.warnInsecure(hostKey);
          refused = hostCheck.check(key);
          return refused === null;
        },
      };
      if (hostCheck.algorithms) config.algorithms = { serverHostKey: hostCheck.algorithms };
      if (creds.key) {
        config.privateKey = creds.key;
        if (creds.passphrase !== null) config.passphrase = creds.passphrase;
      }
      if (creds.password !== null) config.password = creds.password;
      try {
        conn.connect(config);
        // Without ssh2's optional native crypto binding (an install can quietly fail to build it:
        // a fresh npm ci here did), a packet goes out in several socket writes, and Nagle's
        // algorithm then holds each small request for a delayed ACK: about 40 ms per round trip, a
        // quarter second per small upload. Requests are sent whole anyway; nothing is lost by this.
        conn.setNoDelay(true);
      } catch (err) {
        fail(err as Error);
      }
    });
  }

  private watch(s: Session, raw: NodeJS.EventEmitter): void {
    const limit = this.opts.requestTimeoutMs ?? 60_000;
    const watchdog = setInterval(() => {
      const stalled = s.sftp.stalledForMs();
      if (stalled < limit) return;
      this.log?.warn({ event: 'sftp_stalled', stalledMs: stalled, ...s.sftp.stallReport() }, 'sftp requests unanswered; dropping the connection');
      lost(`no answer to SFTP requests for ${Math.round(stalled / 1000)} s`);
      s.conn.destroy();
    }, Math.max(50, Math.min(1_000, limit / 4)));
    watchdog.unref();
    const lost = (why: string): void => {
      clearInterval(watchdog);
      if (s.lost) return;
      s.lost = true;
      if (this.current === s) this.current = null;
      s.loss.abort();
      if (!s.ending) this.log?.warn({ event: 'sftp_connection_lost', reason: this.scrub(why) }, 'sftp connection lost; reconnecting on next use');
    };
    s.conn.on('error', (err: Error) => lost(err.message));
    s.conn.on('close', () => lost('connection closed'));
    s.sftp.onChannelGone = () => {
      lost('sftp channel is closing');
      s.conn.end();
    };
    raw.on('close', () => {
      lost('sftp channel closed');
      s.conn.end();
    });
  }

  private warnInsecure(hostKey: string): void {
    const msg = `insecure-skip-host-key-check is set: connecting to ${this.location} without verifying its host key (server presented ${hostKey})`;
    if (this.log) this.log.warn({ event: 'host_key_unverified', hostKey }, msg);
    else process.emitWarning(msg);
  }

  private connectError(err: Error, creds: SftpCredentials): Error {
    const level = (err as Error & { level?: string }).level;
    const { host, port, user } = this.settings;
    if (level === 'client-authentication') {
      const tried = [creds.key ? `publickey (${creds.keyPath})` : null, creds.password !== null ? 'password' : null].filter(Boolean).join(', ');
      return new Error(`authentication failed for user "${user}" (tried ${tried}); is the public key in the server's authorized_keys?`, { cause: err });
    }
    if (level === 'client-timeout') {
      return new Error(`no SSH handshake with ${host}:${port} in time (ready timeout)`, { cause: err });
    }
    return new Error(`cannot connect to ${host}:${port}: ${err.message}`, { cause: err });
  }

  // --- errors -----------------------------------------------------------------------------------

  private fail(what: string, err: unknown, suffix = ''): ReplicaError {
    if (err instanceof ReplicaError) return err;
    return new ReplicaError(this.location, `${what}: ${this.scrub(errorMessage(err))}${suffix}`, { cause: err });
  }

  /** Secrets never reach a message, even if a library were to echo one. */
  private scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('****');
    return out;
  }
}

function authMethods(creds: SftpCredentials): AuthenticationType[] {
  const methods: AuthenticationType[] = [];
  if (creds.key) methods.push('publickey');
  if (creds.password !== null) methods.push('password');
  return methods;
}

function normalizeRoot(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

function homeDir(): string {
  return process.env.HOME || os.homedir();
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True if every promise settled within `ms`. */
async function settledWithin(promises: Array<Promise<unknown>>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    Promise.allSettled(promises).then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return done;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits `ms`; `skip` ends the wait early, `stop` fails it. */
function abortableDelay(ms: number, stop: AbortSignal, skip?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stop.aborted) return reject(new ClosedError('client closed'));
    if (skip?.aborted) return resolve();
    const finish = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
      skip?.removeEventListener('abort', finish);
      resolve();
    };
    const onStop = (): void => {
      clearTimeout(timer);
      skip?.removeEventListener('abort', finish);
      reject(new ClosedError('client closed while waiting to reconnect'));
    };
    const timer = setTimeout(finish, ms);
    stop.addEventListener('abort', onStop, { once: true });
    skip?.addEventListener('abort', finish, { once: true });
  });
}
