// Prometheus metrics, all named walship_*. Counters are bumped where things happen; gauges that
// describe state (TXIDs, lag) are read from the replicators when scraped.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface ReplicaGaugeSource {
  db: string;
  replica: string;
  remoteTxid: number;
  lagSeconds: number;
  /** When the replica last took everything staged for it; null before its first sync. */
  lastSyncAt: Date | null;
  backlogOverflowed: boolean;
  /** A newer owner fenced this replicator off the replica (a promoted standby holds it). */
  fenced: boolean;
}

export interface DbGaugeSource {
  db: string;
  localTxid: number;
  stagedBytes: number;
  /** Free bytes on the volume that holds staging (the database's own), as of the last prune; null before. */
  volumeFreeBytes: number | null;
}

export class Metrics {
  readonly registry = new Registry();
  readonly captures: Counter<'db'>;
  readonly fullCaptures: Counter<'db' | 'reason'>;
  readonly snapshots: Counter<'db'>;
  readonly checkpoints: Counter<'db' | 'mode'>;
  readonly syncs: Counter<'db' | 'replica'>;
  readonly syncErrors: Counter<'db' | 'replica'>;
  readonly bytesShipped: Counter<'db' | 'replica'>;
  readonly backlogOverflows: Counter<'db' | 'replica'>;
  readonly validations: Counter<'db' | 'replica' | 'result'>;
  readonly heartbeats: Counter<'result'>;

  constructor(sources: { dbs: () => DbGaugeSource[]; replicas: () => ReplicaGaugeSource[] }) {
    const registers = [this.registry];
    // The event-loop delay histogram samples on a timer: at prom-client's default 10 ms, that timer alone kept
    // an idle walship waking 100 times a second (0.5 CPU s a minute). A second is enough for a gauge.
    collectDefaultMetrics({ register: this.registry, prefix: 'walship_process_', eventLoopMonitoringPrecision: 1000 });
    this.captures = new Counter({ name: 'walship_captures_total', help: 'Level-0 LTX files captured from the WAL', labelNames: ['db'], registers });
    this.fullCaptures = new Counter({
      name: 'walship_full_captures_total',
      help: 'Captures that had to hold every page because continuity could not be proven (first capture or a gap)',
      labelNames: ['db', 'reason'],
      registers,
    });
    this.snapshots = new Counter({ name: 'walship_snapshots_total', help: 'Level-9 snapshots staged', labelNames: ['db'], registers });
    this.checkpoints = new Counter({ name: 'walship_checkpoints_total', help: 'Checkpoints run by walship', labelNames: ['db', 'mode'], registers });
    this.syncs = new Counter({ name: 'walship_replica_syncs_total', help: 'Successful shipping passes per replica', labelNames: ['db', 'replica'], registers });
    this.syncErrors = new Counter({ name: 'walship_replica_sync_errors_total', help: 'Failed shipping passes per replica', labelNames: ['db', 'replica'], registers });
    this.bytesShipped = new Counter({ name: 'walship_replica_bytes_shipped_total', help: 'LTX bytes uploaded per replica', labelNames: ['db', 'replica'], registers });
    this.backlogOverflows = new Counter({
      name: 'walship_replica_backlog_overflows_total',
      help: 'Times a replica fell so far behind that its staged backlog was dropped (it heals with a snapshot)',
      labelNames: ['db', 'replica'],
      registers,
    });
    this.validations = new Counter({ name: 'walship_validations_total', help: 'Replica validations by result', labelNames: ['db', 'replica', 'result'], registers });
    this.heartbeats = new Counter({ name: 'walship_heartbeats_total', help: 'Heartbeat pings to heartbeat-url by result (ok or error)', labelNames: ['result'], registers });

    new Gauge({
      name: 'walship_db_txid',
      help: 'Highest TXID captured locally',
      labelNames: ['db'],
      registers,
      collect() {
        this.reset();
        for (const d of sources.dbs()) this.set({ db: d.db }, d.localTxid);
      },
    });
    new Gauge({
      name: 'walship_staging_bytes',
      help: 'Bytes of LTX files waiting in local staging',
      labelNames: ['db'],
      registers,
      collect() {
        this.reset();
        for (const d of sources.dbs()) this.set({ db: d.db }, d.stagedBytes);
      },
    });
    new Gauge({
      name: 'walship_volume_free_bytes',
      help: 'Free bytes on the volume that holds the database and its staging, as of the last staging prune',
      labelNames: ['db'],
      registers,
      collect() {
        this.reset();
        for (const d of sources.dbs()) if (d.volumeFreeBytes !== null) this.set({ db: d.db }, d.volumeFreeBytes);
      },
    });
    new Gauge({
      name: 'walship_replica_txid',
      help: 'Highest level-0 TXID the replica holds',
      labelNames: ['db', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.replicas()) this.set({ db: r.db, replica: r.replica }, r.remoteTxid);
      },
    });
    new Gauge({
      name: 'walship_replica_lag_seconds',
      help: 'Age of the oldest captured transaction the replica does not hold yet; 0 when caught up',
      labelNames: ['db', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.replicas()) this.set({ db: r.db, replica: r.replica }, r.lagSeconds);
      },
    });
    new Gauge({
      name: 'walship_replica_last_sync_timestamp_seconds',
      help: 'Unix time of the last pass that left nothing staged for the replica; 0 before the first since start',
      labelNames: ['db', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.replicas()) this.set({ db: r.db, replica: r.replica }, r.lastSyncAt ? r.lastSyncAt.getTime() / 1000 : 0);
      },
    });
    new Gauge({
      name: 'walship_replica_backlog_overflowed',
      help: '1 while staging no longer holds files for the replica (its backlog passed backlog-limit; it heals with a snapshot), else 0',
      labelNames: ['db', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.replicas()) this.set({ db: r.db, replica: r.replica }, r.backlogOverflowed ? 1 : 0);
      },
    });
    new Gauge({
      name: 'walship_replica_fenced',
      help: '1 once a newer owner (a promoted standby) holds the replica: nothing more is shipped to it and staging keeps what was not shipped, else 0',
      labelNames: ['db', 'replica'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.replicas()) this.set({ db: r.db, replica: r.replica }, r.fenced ? 1 : 0);
      },
    });
  }

  /**
   * Starts a replica's counters at 0, so they are scraped before their first event: Prometheus's
   * increase() cannot see the first step of a series that appears at 1.
   */
  declareReplica(db: string, replica: string): void {
    const labels = { db, replica };
    for (const c of [this.syncs, this.syncErrors, this.bytesShipped, this.backlogOverflows]) c.inc(labels, 0);
    for (const result of ['ok', 'mismatch', 'error']) this.validations.inc({ ...labels, result }, 0);
  }

  /** Starts the heartbeat counter at 0 (as declareReplica), when a heartbeat is configured. */
  declareHeartbeat(): void {
    for (const result of ['ok', 'error']) this.heartbeats.inc({ result }, 0);
  }
}
