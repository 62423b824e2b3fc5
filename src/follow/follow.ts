// restore -f: restore (or resume a follower's database), then keep it current until stopped.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { RestoreError, type IntegrityCheck } from '../restore/apply.js';
import { restore, type NamedReplica } from '../restore/restore.js';
import { startHttpServer } from '../server/http-server.js';
import { Follower } from './follower.js';
import { observeFollower } from './observe.js';
import { positionPath, readPosition, writePosition, type FollowPosition } from './position.js';
import { pathExists } from '../util/fs.js';
import { stagingDirOf } from '../config/staging-path.js';
import { Wakeup } from '../util/wakeup.js';
import { LeaseWatch } from './takeover.js';
import { FollowError } from './follower-db.js';

export interface FollowRequest {
  replicas: NamedReplica[];
  outputPath: string;
  integrity: IntegrityCheck;
  ifDbNotExists: boolean;
  ifReplicaExists: boolean;
  intervalMs: number;
  busyTimeoutMs: number;
  addr: string | null;
  readyLagMs: number;
  log: Logger;
  signal: AbortSignal;
  /** Watch the primary's lease and stop following, caught up, once it has run out (-takeover). */
  takeover?: boolean;
}

export type FollowOutcome =
  | { kind: 'stopped'; txid: number }
  | { kind: 'replica-empty' }
  /** The lease ran out: the follower stopped, caught up with the replica; the caller promotes. */
  | { kind: 'takeover'; txid: number; replica: string; leaseMs: number | null };

/** Polls after the lease ran out, to apply what the old primary shipped last; bounded. */
const CATCH_UP_POLLS = 1000;

export async function follow(req: FollowRequest): Promise<FollowOutcome> {
  const { log, outputPath } = req;
  let replica: NamedReplica;
  let position: FollowPosition | null = await readPosition(outputPath);
  if (await pathExists(outputPath)) {
    if (!req.ifDbNotExists) throw new RestoreError(`output ${outputPath} already exists; refusing to overwrite it (remove it, or use -if-db-not-exists to resume the follower that left it)`);
    if (!position && req.takeover && (await pathExists(stagingDirOf(outputPath)))) {
      // A standby that took over earlier and was restarted: it is a primary now (its fence, checked
      // when replication starts, says whether it still owns the replica).
      log.info({ event: 'already_primary', db: outputPath }, 'this database was promoted earlier; replicating it');
      return { kind: 'takeover', txid: 0, replica: req.replicas[0]!.name, leaseMs: null };
    }
    if (!position) throw new RestoreError(`output ${outputPath} exists but no follower position is beside it (${positionPath(outputPath)}); remove it to restore and follow again`);
    const found = req.replicas.find((r) => r.client.location === position!.replica);
    if (!found) throw new RestoreError(`follower position ${positionPath(outputPath)} is for replica ${position.replica}, not ${req.replicas.map((r) => r.client.location).join(', ')}`);
    replica = found;
    log.info({ event: 'follow_resumed', db: outputPath, replica: replica.name, txid: position.txid }, 'resuming the follower');
  } else {
    const byName = new Map(req.replicas.map((r) => [r.name, r]));
    const outcome = await restore({
      replicas: req.replicas,
      outputPath,
      target: {},
      integrity: req.integrity,
      ifDbNotExists: false,
      ifReplicaExists: req.ifReplicaExists,
      apply: (name) => ({
        rollbackJournal: true,
        // The position goes first: a crash before the rename leaves no database, which restores again.
        beforeRename: async (r) => writePosition(outputPath, { replica: byName.get(name)!.client.location, txid: r.txid }),
      }),
    });
    if (outcome.kind === 'replica-empty') return { kind: 'replica-empty' };
    if (outcome.kind !== 'restored') throw new RestoreError(`output ${outputPath} appeared while restoring`);
    replica = byName.get(outcome.replica)!;
    position = { replica: replica.client.location, txid: outcome.txid, updatedAt: new Date().toISOString() };
    log.info({ event: 'restored', db: outputPath, replica: replica.name, txid: outcome.txid, files: outcome.files }, 'restored');
  }

  const follower = await Follower.open({ client: replica.client, replicaName: replica.name, dbPath: outputPath, intervalMs: req.intervalMs, busyTimeoutMs: req.busyTimeoutMs, log }, position);
  let server: Server | null = null;
  try {
    if (req.addr) server = await startHttpServer(req.addr, observeFollower(() => follower.status(), req.readyLagMs), log);
    log.info({ event: 'started', db: outputPath, replica: replica.name, txid: position.txid, interval_ms: req.intervalMs, takeover: req.takeover === true }, 'following');
    if (req.takeover) {
      const watch = new LeaseWatch(replica.client, log, { db: outputPath, replica: replica.name });
      while (await followUntilLeaseExpires(follower, watch, req)) {
        try {
          for (let i = 0; i < CATCH_UP_POLLS && (await follower.pollOnce()); i++);
        } catch (err) {
          if (err instanceof FollowError && err.permanent) throw err;
          // Not caught up, not promoted: back to following, and the lease is looked at again.
          log.warn({ event: 'takeover_postponed', db: outputPath, replica: replica.name, err: (err as Error).message }, 'the lease ran out but the replica could not be read to the end; following again');
          continue;
        }
        const s = follower.status();
        log.info({ event: 'lease_expired', db: outputPath, replica: replica.name, txid: s.txid, owner: watch.record?.owner.host }, 'the primary\'s lease ran out; taking over');
        return { kind: 'takeover', txid: s.txid, replica: replica.name, leaseMs: watch.record?.lease?.durationMs ?? null };
      }
    } else {
      await follower.run(req.signal);
    }
    const s = follower.status();
    log.info({ event: 'follow_stopped', db: outputPath, txid: s.txid, applied: s.appliedFiles }, 'stopped following');
    return { kind: 'stopped', txid: s.txid };
  } finally {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await follower.close();
  }
}

/** Follows while reading the lease each interval; true when it ran out (false: stopped by signal). */
async function followUntilLeaseExpires(follower: Follower, watch: LeaseWatch, req: FollowRequest): Promise<boolean> {
  const inner = new AbortController();
  const stop = (): void => inner.abort();
  req.signal.addEventListener('abort', stop, { once: true });
  let expired = false;
  const watching = (async () => {
    const tick = new Wakeup();
    while (!inner.signal.aborted) {
      // A malformed record is never a reason to promote; expired() logs unreadable replicas itself.
      if (await watch.expired().catch((err: unknown) => (req.log.warn({ event: 'lease_unreadable', db: req.outputPath, err: (err as Error).message }, 'cannot read the lease; not taking over'), false))) {
        expired = true;
        inner.abort();
        break;
      }
      await tick.wait(req.intervalMs, inner.signal);
    }
  })();
  try {
    await follower.run(inner.signal);
  } finally {
    inner.abort();
    await watching;
    req.signal.removeEventListener('abort', stop);
  }
  return expired && !req.signal.aborted;
}
