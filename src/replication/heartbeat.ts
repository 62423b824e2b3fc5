// Litestream's heartbeat: a GET to `heartbeat-url` (a healthchecks-style dead man's switch) after
// a successful sync, at most once per `heartbeat-interval`, and only while every replica is
// healthy. The decision is pure (heartbeatDue); Heartbeat is the small I/O shell around it.
//
// Litestream syncs on a ticker even when idle, so "synced within the interval" means healthy there.
// walship sends nothing while idle, so a replica that is caught up and has no error counts as
// healthy however long ago its last sync was; one that lags must have synced within the interval.
import type { Logger } from 'pino';

export interface ReplicaHealth {
  lastSyncAt: Date | null;
  lastError: string | null;
  lagSeconds: number;
  backlogOverflowed: boolean;
}

export type HeartbeatDecision = { due: true } | { due: false; reason: string };

/** Whether a ping is due now. `lastPingAt` is when the last attempt started (ms), null if none yet. */
export function heartbeatDue(now: number, lastPingAt: number | null, intervalMs: number, replicas: readonly ReplicaHealth[]): HeartbeatDecision {
  if (lastPingAt !== null && now - lastPingAt < intervalMs) return { due: false, reason: 'pinged within the interval' };
  if (replicas.length === 0) return { due: false, reason: 'no replicas' };
  for (const r of replicas) {
    if (r.lastSyncAt === null) return { due: false, reason: 'a replica has not synced yet' };
    if (r.lastError !== null) return { due: false, reason: 'a replica is failing' };
    if (r.backlogOverflowed) return { due: false, reason: 'a replica overflowed its backlog' };
    if (r.lagSeconds > 0 && now - r.lastSyncAt.getTime() >= intervalMs) return { due: false, reason: 'a replica has not synced within the interval' };
  }
  return { due: true };
}

/** Litestream's request timeout. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How often the decision is checked: in-memory only, no request unless one is due. */
const CHECK_MS = 1_000;

export interface HeartbeatOptions {
  url: string;
  intervalMs: number;
  health: () => ReplicaHealth[];
  log: Logger;
  /** Counts each attempt by result. */
  onResult?: (result: 'ok' | 'error') => void;
}

export class Heartbeat {
  private lastPingAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: AbortController | null = null;
  private lastFailure: string | null = null;

  constructor(private readonly opts: HeartbeatOptions) {}

  /** Where pings go, without path or query (which may hold a token): safe to log. */
  get target(): string {
    return new URL(this.opts.url).origin;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.inFlight?.abort();
  }

  /** Sends a ping if one is due. One at a time; the attempt's start counts, so a failure is not retried before the next interval. */
  async check(now = Date.now()): Promise<void> {
    if (this.inFlight) return;
    if (!heartbeatDue(now, this.lastPingAt, this.opts.intervalMs, this.opts.health()).due) return;
    this.lastPingAt = now;
    const abort = new AbortController();
    this.inFlight = abort;
    const timeout = setTimeout(() => abort.abort(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)), REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(this.opts.url, { method: 'GET', signal: abort.signal, redirect: 'follow' });
      await res.body?.cancel();
      if (res.status < 200 || res.status >= 300) throw new Error(`HTTP status ${res.status}`);
      this.opts.onResult?.('ok');
      if (this.lastFailure !== null) this.opts.log.info({ event: 'heartbeat_recovered', target: this.target }, 'heartbeat ping succeeded again');
      else this.opts.log.debug({ event: 'heartbeat', target: this.target }, 'heartbeat ping sent');
      this.lastFailure = null;
    } catch (err) {
      this.opts.onResult?.('error');
      const message = describeError(err, abort.signal);
      // One line per distinct failure, not one per interval.
      if (message !== this.lastFailure) this.opts.log.error({ event: 'heartbeat_failed', target: this.target, err: message }, 'heartbeat ping failed');
      this.lastFailure = message;
    } finally {
      clearTimeout(timeout);
      this.inFlight = null;
    }
  }
}

function describeError(err: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof Error) return signal.reason.message;
  const e = err as Error & { cause?: { code?: string; message?: string } };
  // undici reports "fetch failed" with the reason in `cause`; neither carries the URL's path.
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
