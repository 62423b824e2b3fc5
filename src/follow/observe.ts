// What a follower reports on `addr`: /metrics (its TXID, the replica's TXID, lag), /readyz (lag
// within ready-lag), /status (in the shape `walship status` prints: the follower's database as the
// "db", the replica it follows as the one replica row).
import { Gauge } from 'prom-client';
import type { HttpHandlers } from '../server/http-server.js';
import { Metrics } from '../server/metrics.js';
import type { DbStatus } from '../server/observe.js';
import type { FollowerStatus } from './follower.js';

export function followerStatus(s: FollowerStatus): DbStatus[] {
  return [
    {
      db: s.db,
      txid: s.txid,
      stagingBytes: 0,
      replicas: [{ name: s.replica, txid: s.replicaTxid, lagSeconds: s.lagSeconds, lastSyncAt: s.lastPollAt, lastError: s.lastError, backlogOverflowed: false }],
    },
  ];
}

export function observeFollower(status: () => FollowerStatus, readyLagMs: number): HttpHandlers {
  const metrics = new Metrics({ dbs: () => [], replicas: () => [] });
  const registers = [metrics.registry];
  const gauge = (name: string, help: string, value: (s: FollowerStatus) => number, replicaLabel: boolean): void => {
    new Gauge({
      name,
      help,
      labelNames: replicaLabel ? ['db', 'replica'] : ['db'],
      registers,
      collect() {
        const s = status();
        this.reset();
        this.set(replicaLabel ? { db: s.db, replica: s.replica } : { db: s.db }, value(s));
      },
    });
  };
  gauge('walship_follower_txid', 'Highest TXID applied to the follower database', (s) => s.txid, false);
  gauge('walship_follower_replica_txid', 'Highest TXID the followed replica holds, as of the last poll', (s) => s.replicaTxid, true);
  gauge('walship_follower_lag_seconds', 'Seconds since the follower last held everything the replica had', (s) => s.lagSeconds, true);
  gauge('walship_follower_applied_files_total', 'LTX files applied by this follower process', (s) => s.appliedFiles, false);
  gauge('walship_follower_resyncs_total', 'Times the follower fell behind retention and applied a snapshot', (s) => s.resyncs, false);
  return {
    metrics,
    health: () => ({ ok: true, detail: 'ok' }),
    ready: () => {
      const s = status();
      const ok = s.lagSeconds * 1000 <= readyLagMs;
      return { ok, detail: ok ? 'caught up' : [`${s.db} <- ${s.replica}: ${s.lagSeconds}s behind`] };
    },
    status: () => followerStatus(status()),
    validate: () => Promise.resolve({ ok: false, results: [{ error: 'a follower has nothing to validate; validate on the primary' }] }),
  };
}
