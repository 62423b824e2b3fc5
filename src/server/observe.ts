// What the HTTP endpoints report about running replicators: health, readiness and status.
import type { DbReplicator } from '../replication/db-replicator.js';
import type { HttpHandlers } from './http-server.js';
import type { Metrics } from './metrics.js';

export interface ReplicaStatus {
  name: string;
  txid: number;
  /** Unknown (null) when no running replicator was asked. */
  lagSeconds: number | null;
  lastSyncAt: string | null;
  lastError: string | null;
  backlogOverflowed: boolean;
  /** Who fenced this replicator off the replica, once someone did. */
  fencedBy?: string | null;
}

export interface DbStatus {
  db: string;
  txid: number;
  stagingBytes: number;
  replicas: ReplicaStatus[];
}

export function statusOf(replicators: readonly DbReplicator[]): DbStatus[] {
  return replicators.map((r) => ({
    db: r.dbPath,
    txid: r.capture.position?.txid ?? 0,
    stagingBytes: r.stagingBytes,
    replicas: r.shipperStatus().map((s) => ({
      name: s.name,
      txid: s.remote[0] ?? 0,
      lagSeconds: Math.round(s.lagSeconds * 1000) / 1000,
      lastSyncAt: s.lastSyncAt?.toISOString() ?? null,
      lastError: s.lastError,
      backlogOverflowed: s.backlogOverflowed,
      fencedBy: s.fencedBy,
    })),
  }));
}

export function observe(replicators: readonly DbReplicator[], metrics: Metrics, readyLagMs: number): HttpHandlers {
  return {
    metrics,
    // Alive as long as the process answers: a replica being down is a readiness matter, not liveness.
    health: () => ({ ok: true, detail: 'ok' }),
    ready: () => {
      const lagging = statusOf(replicators).flatMap((d) =>
        d.replicas.filter((r) => (r.lagSeconds ?? 0) * 1000 > readyLagMs).map((r) => `${d.db} -> ${r.name}: ${r.lagSeconds}s behind`),
      );
      return { ok: lagging.length === 0, detail: lagging.length ? lagging : 'caught up' };
    },
    status: () => statusOf(replicators),
    validate: async (db) => {
      const chosen = replicators.filter((r) => !db || r.dbPath === db);
      const results = (await Promise.all(chosen.map((r) => r.validate()))).flat();
      return { ok: chosen.length > 0 && results.every((r) => r.ok), results };
    },
  };
}
