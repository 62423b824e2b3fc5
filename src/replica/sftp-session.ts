// The connection an SFTP replica client runs its operations on: opened on first use and shared by
// concurrent operations (SFTP requests are multiplexed by id). A lost connection is noticed through
// its close event, keepalives or the request watchdog, and reopened on next use; consecutive failed
// connects wait an exponential backoff with jitter. Nothing here knows what a replica is: the
// client plugs in what runs after each connect and what to clean up at close (SessionHooks).
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Client } from 'ssh2';
import type { SftpSettings } from '../config/types.js';
import { Backoff } from '../util/backoff.js';
import { ReplicaError } from './client.js';
import { ClosedError, openSftpConnection } from './sftp-connect.js';
import { Sftp, SftpRequestError } from './sftp-io.js';
import { settledWithin } from '../util/settle.js';

export interface SftpSessionOptions {
  logger?: Logger | undefined;
  /** SSH keepalive period; a connection is dropped after keepaliveCountMax unanswered ones. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Time allowed for TCP connect, key exchange and authentication. */
  readyTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** How long close() waits for operations in flight before ending the connection anyway. */
  closeTimeoutMs?: number;
  /**
   * A connection whose SFTP requests get no answer at all for this long is dropped and reopened,
   * even though keepalives still pass (a wedged server process, a stuck channel).
   */
  requestTimeoutMs?: number;
}

/** One open connection, as operations see it. */
export interface SftpConnection {
  readonly sftp: Sftp;
  /** Set once the connection is gone: every request on it fails. */
  readonly lost: boolean;
}

/** What the owner of a session runs at its edges. */
export interface SessionHooks {
  /**
   * Runs on each new connection before any operation gets it. It must not throw (a failure is
   * its own to report); the connection is handed out afterwards unless it was lost meanwhile.
   */
  afterConnect(c: SftpConnection): Promise<void>;
  /** At close: whether there is cleanup worth one short connect when no connection is open. */
  wantsCleanupAtClose(): boolean;
  /** At close, on a live connection, bounded by the session (5 s); must not throw. */
  cleanupAtClose(c: SftpConnection): Promise<void>;
}

/**
 * Who an operation runs for, when one session serves several replica clients (sftp-pool.ts): its
 * errors name that client's location, and `prepare` runs that client's own after-connect work on a
 * connection before the client's first operation on it.
 */
export interface SessionUser {
  readonly location: string;
  prepare(c: SftpConnection): Promise<void>;
  /** True while that client closes: no retries for it. */
  readonly closing: boolean;
}

interface Session extends SftpConnection {
  conn: Client;
  lost: boolean;
  /** Aborted on loss, failing every request still in flight. */
  loss: AbortController;
  /** We are ending it on purpose; its close is not a loss worth a warning. */
  ending: boolean;
}

const CLEANUP_AT_CLOSE_MS = 5_000;

export class SftpSession {
  private readonly log: Logger | undefined;
  private readonly backoff: Backoff;
  private readonly secrets: string[];
  private current: Session | null = null;
  /** A new connection while the afterConnect hook runs on it, not yet handed out. */
  private preparing: Session | null = null;
  private connecting: Promise<Session> | null = null;
  private nextConnectAt = 0;
  private stop = new AbortController();
  private closingNow = false;
  /** Set while a connect waits out its backoff; aborting it skips the rest of the wait. */
  private backoffSkip: AbortController | null = null;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly settings: SftpSettings,
    /** Where the replica lives, for errors and logs: never holds a secret. */
    readonly location: string,
    private readonly hooks: SessionHooks,
    private readonly opts: SftpSessionOptions = {},
  ) {
    this.log = opts.logger;
    this.backoff = new Backoff(opts.reconnectBaseMs ?? 250, opts.reconnectMaxMs ?? 5_000);
    this.secrets = [settings.password, settings.keyPassphrase].filter((s): s is string => !!s);
  }

  /** True while close() runs: no new connects, no retries. */
  get closing(): boolean {
    return this.closingNow;
  }

  /**
   * Runs an operation on the shared connection. Every operation is idempotent, so one that failed
   * because the connection dropped under it runs once more on a fresh connection. Failures come
   * back as ReplicaErrors naming `what`.
   */
  run<T>(what: string, op: (c: SftpConnection) => Promise<T>, user?: SessionUser): Promise<T> {
    const task = (async (): Promise<T> => {
      let retried = false;
      for (;;) {
        const suffix = retried ? ' (on the second attempt; the connection was lost during the first)' : '';
        const s = await this.acquire(what, suffix, user);
        try {
          return await op(s);
        } catch (err) {
          if (!retried && !user?.closing && (await this.shouldRetry(s, err))) {
            retried = true;
            this.log?.info({ event: 'sftp_retry', op: what }, 'connection lost during an operation; retrying once on a new connection');
            continue;
          }
          throw this.fail(what, err, suffix, user?.location);
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

  /** The shared connection, or a ReplicaError naming the operation that needed it. */
  async acquire(what: string, suffix = '', user?: SessionUser): Promise<SftpConnection> {
    try {
      for (let attempt = 1; ; attempt++) {
        if (user?.closing) throw new ClosedError('client is closing');
        const s = await this.session();
        if (!user) return s;
        await user.prepare(s);
        // Lost while the user's own after-connect work ran on it: take the next one (a few times).
        if (!s.lost) return s;
        if (attempt >= 3) throw new Error('connection lost right after connecting');
      }
    } catch (err) {
      throw this.fail(what, err, suffix, user?.location);
    }
  }

  /**
   * Whether an operation that failed with `err` on `c` is worth one more attempt on a new
   * connection: the connection was lost under it, and the client is not closing. A request that got
   * no answer (status null) failed because the transport went away; ssh2 may fail the request a
   * moment before it emits close, so give it that moment.
   */
  async shouldRetry(c: SftpConnection, err: unknown): Promise<boolean> {
    if (this.closingNow) return false;
    if (c.lost) return true;
    if (!(err instanceof SftpRequestError) || err.code !== null) return false;
    for (let i = 0; i < 20 && !c.lost; i++) await delay(10);
    return c.lost && !this.closingNow;
  }

  /**
   * Waits up to `graceMs` for operations in flight, then ends the connection under whatever still
   * runs (its requests fail at once). Runs the owner's cleanup if the server answers, and ends the
   * connection. A later operation connects again.
   */
  async close(graceMs = this.opts.closeTimeoutMs ?? 15_000): Promise<void> {
    const started = Date.now();
    // No new connects and no retries from here; an operation waiting out a backoff tries at once.
    this.closingNow = true;
    this.retryNow();
    try {
      if (this.inflight.size > 0 && !(await settledWithin([...this.inflight], graceMs))) {
        const s = this.current ?? this.preparing;
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
      if ((!s || s.lost) && this.hooks.wantsCleanupAtClose()) {
        // One short attempt to clean up what an interrupted upload left; the server may well be gone.
        const budget = Math.max(1_000, Math.min(5_000, graceMs - (Date.now() - started)));
        s = await this.open(Math.min(budget, this.opts.readyTimeoutMs ?? 20_000), new AbortController().signal).catch(() => null);
      }
      if (!s || s.lost) return;
      // A server that stopped answering must not hold the close up.
      if (!(await settledWithin([this.hooks.cleanupAtClose(s)], CLEANUP_AT_CLOSE_MS))) s.conn.destroy();
      await this.end(s);
    } finally {
      this.closingNow = false;
      this.stop = new AbortController();
    }
  }

  /**
   * Drops any reconnect backoff, so the next operation (or one waiting to reconnect) tries at once.
   */
  retryNow(): void {
    this.nextConnectAt = 0;
    this.backoffSkip?.abort();
  }

  /** A ReplicaError naming the operation, with secrets scrubbed from the cause's message. */
  fail(what: string, err: unknown, suffix = '', location = this.location): ReplicaError {
    if (err instanceof ReplicaError) return err;
    return new ReplicaError(location, `${what}: ${this.scrub(errorMessage(err))}${suffix}`, { cause: err });
  }

  /** Secrets never reach a message, even if a library were to echo one. */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('****');
    return out;
  }

  // --- connection lifecycle ---------------------------------------------------------------------

  private session(): Promise<Session> {
    if (this.current && !this.current.lost) return Promise.resolve(this.current);
    if (this.closingNow) return Promise.reject(new ClosedError('client is closing'));
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
    // Before any operation sees the connection, so the owner's hook never races its own uploads.
    this.preparing = s;
    try {
      await this.hooks.afterConnect(s);
    } finally {
      this.preparing = null;
    }
    if (s.lost) {
      this.nextConnectAt = Date.now() + this.backoff.next();
      throw new Error('connection lost right after connecting');
    }
    this.current = s;
    return s;
  }

  /** Connects and starts the SFTP subsystem; `stop` aborting gives up at once. */
  private async open(readyTimeoutMs: number, stop: AbortSignal): Promise<Session> {
    const { conn, raw, hostKey } = await openSftpConnection(this.settings, {
      readyTimeoutMs,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: this.opts.keepaliveCountMax ?? 3,
      stop,
      location: this.location,
      logger: this.log,
    });
    const loss = new AbortController();
    // Every request in flight listens for the loss; dozens at once are normal, not a leak.
    setMaxListeners(0, loss.signal);
    const s: Session = { conn, sftp: new Sftp(raw, loss.signal), lost: false, loss, ending: false };
    this.watch(s, raw);
    this.log?.info({ event: 'sftp_connected', hostKey }, 'sftp connected');
    return s;
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
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
