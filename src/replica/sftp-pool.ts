// One SSH connection per SFTP endpoint, shared by every replica client that talks to it. A sidecar
// with 1,000 databases replicating to one server opened 1,000 connections before: sshd's
// MaxStartups refused most of them while they authenticated, and each one costs the server two
// processes and the client its own ssh2 transport. Now the clients of one endpoint identity (host,
// port, user, credentials, host-key policy and connection options) share one SftpSession, counted by
// reference: the connection closes when the last client using it closes. Reconnect and its backoff
// belong to the shared session (a lost connection is lost for all of them); what belongs to a replica
// stays with its client, through its lease: errors name the client's own location, the client's
// after-connect work (temporary-file clean-up, its directory cache) runs on each new connection
// before that client's first operation on it, and its clean-up at close.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { SftpSettings } from '../config/types.js';
import { DEFAULT_KEY_FILES } from './sftp-auth.js';
import { homeDir } from './sftp-connect.js';
import { settledWithin } from '../util/settle.js';
import type { ReplicaError } from './client.js';
import { SftpSession, type SessionHooks, type SessionUser, type SftpConnection, type SftpSessionOptions } from './sftp-session.js';

interface PoolEntry {
  readonly key: string;
  readonly session: SftpSession;
  refs: number;
  /** The lease whose close ends the session (the last one): its clean-up hooks run there. */
  closing: SftpLease | null;
}

const pool = new Map<string, PoolEntry>();
const CLEANUP_AT_CLOSE_MS = 5_000;

/**
 * The key files a connect would use, as they are now: the configured one, or the first of ssh's
 * defaults under the home directory (which is also where known_hosts defaults to). A client that
 * joins after the files changed (a rotated key, a removed default) gets a connection of its own,
 * authenticated with what is there now, as an unshared client would.
 */
function credentialFiles(s: SftpSettings): string[] {
  const look = (p: string): string | null => {
    const st = statSync(p, { throwIfNoEntry: false });
    return st ? `${p}:${st.size}:${st.mtimeMs}` : null;
  };
  if (s.keyPath) return [look(s.keyPath) ?? `${s.keyPath}:missing`];
  const home = homeDir();
  const found = DEFAULT_KEY_FILES.map((f) => look(path.join(home, '.ssh', f))).find((x) => x !== null);
  return [home, found ?? 'no default key'];
}

/** The identity a connection is shared by: never logged (it holds the password, if any). */
function endpointKey(settings: SftpSettings, opts: SftpSessionOptions): string {
  const { logger: _logger, ...timing } = opts;
  const s = settings;
  return JSON.stringify([s.host.toLowerCase(), s.port, s.user, s.password, s.keyPath, s.keyPassphrase, s.hostKey, s.knownHostsPath, s.insecureSkipHostKeyCheck, credentialFiles(s), timing]);
}

function endpointLocation(settings: SftpSettings): string {
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return `sftp://${encodeURIComponent(settings.user)}@${host}:${settings.port}`;
}

/** Connections currently open or opening in this process's pool, by endpoint (for tests and /status-like checks). */
export function sharedSftpSessions(): number {
  return pool.size;
}

/**
 * A replica client's share of its endpoint's session: the same operations as SftpSession, for
 * that client alone.
 */
export class SftpLease implements SessionUser {
  private entry: PoolEntry | null = null;
  private closingNow = false;
  private preparedFor: SftpConnection | null = null;
  private preparing: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly settings: SftpSettings,
    readonly location: string,
    private readonly hooks: SessionHooks,
    private readonly opts: SftpSessionOptions = {},
  ) {}

  get closing(): boolean {
    return this.closingNow;
  }

  /** The shared session, joining (or opening) the pool's entry for this endpoint. */
  private get session(): SftpSession {
    if (this.entry) return this.entry.session;
    const key = endpointKey(this.settings, this.opts);
    let e = pool.get(key);
    if (!e) {
      const empty: SessionHooks = {
        afterConnect: async () => undefined,
        wantsCleanupAtClose: () => e!.closing?.hooks.wantsCleanupAtClose() ?? false,
        cleanupAtClose: (c) => e!.closing?.hooks.cleanupAtClose(c) ?? Promise.resolve(),
      };
      e = { key, session: new SftpSession(this.settings, endpointLocation(this.settings), empty, this.opts), refs: 0, closing: null };
      pool.set(key, e);
    }
    e.refs++;
    this.entry = e;
    return e.session;
  }

  /** Runs this client's after-connect work once per new connection, before its first operation on it. */
  async prepare(c: SftpConnection): Promise<void> {
    while (this.preparedFor !== c) {
      if (!this.preparing) {
        this.preparing = this.hooks.afterConnect(c).finally(() => {
          this.preparedFor = c;
          this.preparing = null;
        });
      }
      await this.preparing;
    }
  }

  run<T>(what: string, op: (c: SftpConnection) => Promise<T>): Promise<T> {
    return this.track(this.session.run(what, op, this));
  }

  acquire(what: string, suffix = ''): Promise<SftpConnection> {
    return this.session.acquire(what, suffix, this);
  }

  async shouldRetry(c: SftpConnection, err: unknown): Promise<boolean> {
    return !this.closingNow && (await this.session.shouldRetry(c, err));
  }

  fail(what: string, err: unknown, suffix = ''): ReplicaError {
    return this.session.fail(what, err, suffix, this.location);
  }

  scrub(text: string): string {
    const s = this.settings;
    let out = text;
    for (const secret of [s.password, s.keyPassphrase]) if (secret) out = out.split(secret).join('****');
    return out;
  }

  retryNow(): void {
    this.entry?.session.retryNow();
  }

  /**
   * Waits up to `graceMs` for this client's operations, runs its clean-up on a live connection, and
   * leaves the session; the last client to leave closes it (SftpSession.close, which ends whatever
   * still runs). A later operation joins the pool again.
   */
  async close(graceMs = this.opts.closeTimeoutMs ?? 15_000): Promise<void> {
    const e = this.entry;
    if (!e) return;
    const started = Date.now();
    this.closingNow = true;
    try {
      if (this.inflight.size > 0) await settledWithin([...this.inflight], graceMs);
      this.entry = null;
      this.preparedFor = null;
      e.refs--;
      if (e.refs > 0) {
        // Others still use the connection: clean up on it, if it is up, and leave it open.
        if (this.hooks.wantsCleanupAtClose()) {
          const acquiring = e.session.acquire('clean up at close').catch(() => null);
          const c = (await settledWithin([acquiring], CLEANUP_AT_CLOSE_MS)) ? await acquiring : null;
          if (c && !c.lost) await settledWithin([this.hooks.cleanupAtClose(c)], CLEANUP_AT_CLOSE_MS);
        }
        return;
      }
      if (pool.get(e.key) === e) pool.delete(e.key);
      e.closing = this;
      await e.session.close(Math.max(0, graceMs - (Date.now() - started)));
    } finally {
      this.closingNow = false;
    }
  }

  private track<T>(task: Promise<T>): Promise<T> {
    this.inflight.add(task);
    const done = (): void => void this.inflight.delete(task);
    void task.then(done, done);
    return task;
  }
}
