// Everything `walship replicate` runs: one replicator per configured database, the metrics they
// feed, and the HTTP listener. The command itself only handles arguments, signals and -exec.
import type http from 'node:http';
import type { Logger } from 'pino';
import type { DbConfig, WalshipConfig } from '../config/types.js';
import { createReplicaClient } from '../replica/factory.js';
import { startHttpServer } from '../server/http-server.js';
import { Metrics } from '../server/metrics.js';
import { observe, statusOf, type DbStatus } from '../server/observe.js';
import { DbReplicator } from './db-replicator.js';
import { DirReplicators } from './dir-replicators.js';
import { Heartbeat } from './heartbeat.js';
import { PollScheduler } from './poll-scheduler.js';
import { forEachBounded } from '../util/bounded.js';

/** Databases starting at once: each lists its replicas first, and a thousand at once would hammer the server. */
const START_CONCURRENCY = 8;

export interface ServiceOptions {
  /** `replicate -once`: no heartbeat (as in Litestream, no background monitors). */
  once?: boolean;
}

export class ReplicationService {
  /** Every database's replicator: the configured ones, and those directory entries found. */
  readonly replicators: DbReplicator[];
  private readonly dirs: DirReplicators | null;
  readonly metrics: Metrics;
  private server: http.Server | null = null;
  private readonly heartbeat: Heartbeat | null;
  /** One timer for every database's periodic jobs (poll-scheduler.ts). */
  private readonly scheduler: PollScheduler;

  constructor(
    private readonly config: WalshipConfig,
    private readonly log: Logger,
    opts: ServiceOptions = {},
  ) {
    // Gauges read the replicators lazily, at scrape time.
    this.metrics = new Metrics({
      dbs: () => this.replicators.map((r) => ({ db: r.dbPath, localTxid: r.capture.position?.txid ?? 0, stagedBytes: r.stagingBytes, volumeFreeBytes: r.volumeFreeBytes })),
      replicas: () =>
        this.replicators.flatMap((r) =>
          r.shipperStatus().map((s) => ({
            db: r.dbPath,
            replica: s.name,
            remoteTxid: s.remote[0] ?? 0,
            lagSeconds: s.lagSeconds,
            lastSyncAt: s.lastSyncAt,
            backlogOverflowed: s.backlogOverflowed,
            fenced: s.fencedBy !== null,
          })),
        ),
    });
    this.scheduler = new PollScheduler(undefined, (err) => log.error({ event: 'poll_job_failed', err: String(err) }, 'a periodic job threw'));
    this.replicators = config.dbs.map((db) => this.makeReplicator(db));
    this.dirs =
      config.dirs.length > 0
        ? new DirReplicators(config.dirs, config.dbs, {
            make: (db) => this.makeReplicator(db),
            added: (r, db) => {
              this.replicators.push(r);
              for (const rc of db.replicas) this.metrics.declareReplica(db.path, rc.name);
            },
            removed: (r) => {
              const i = this.replicators.indexOf(r);
              if (i >= 0) this.replicators.splice(i, 1);
            },
          }, log)
        : null;
    for (const db of config.dbs) for (const r of db.replicas) this.metrics.declareReplica(db.path, r.name);
    this.heartbeat =
      config.heartbeatUrl && !opts.once
        ? new Heartbeat({
            url: config.heartbeatUrl,
            intervalMs: config.heartbeatIntervalMs,
            health: () => this.replicators.flatMap((r) => r.shipperStatus()),
            log,
            onResult: (result) => this.metrics.heartbeats.inc({ result }),
          })
        : null;
    if (this.heartbeat) this.metrics.declareHeartbeat();
  }

  private makeReplicator(db: DbConfig): DbReplicator {
    const config = this.config;
    return new DbReplicator(
      {
        dbPath: db.path,
        replicas: db.replicas.map((r) => ({
          name: r.name,
          client: createReplicaClient(r, { logger: this.log }),
          syncIntervalMs: r.syncIntervalMs,
          backlogLimitBytes: r.backlogLimitBytes,
          retentionMs: r.retentionMs,
          retentionCheckIntervalMs: r.retentionCheckIntervalMs,
          validationIntervalMs: r.validationIntervalMs ?? 0,
        })),
        monitorIntervalMs: db.monitorIntervalMs,
        checkpointIntervalMs: db.checkpointIntervalMs,
        minCheckpointPageN: db.minCheckpointPageN,
        truncatePageN: db.truncatePageN,
        busyTimeoutMs: db.busyTimeoutMs,
        snapshotIntervalMs: Math.min(...db.replicas.map((r) => r.snapshotIntervalMs)),
        levelIntervalsMs: config.levelIntervalsMs,
        l0RetentionMs: config.l0RetentionMs,
        shutdownSyncTimeoutMs: config.shutdownSyncTimeoutMs,
        lease: config.lease,
        scheduler: this.scheduler,
      },
      this.log,
      this.metrics,
    );
  }

  /** Starts every replicator (each takes its database's lock first), then the HTTP listener. */
  async start(): Promise<void> {
    await forEachBounded(this.replicators, START_CONCURRENCY, (r) => r.start());
    await this.dirs?.start();
    if (this.config.addr) this.server = await startHttpServer(this.config.addr, observe(this.replicators, this.metrics, this.config.readyLagMs), this.log);
    this.heartbeat?.start();
    this.log.info({ event: 'started', dbs: this.replicators.map((r) => r.dbPath), heartbeat: this.heartbeat?.target }, 'replicating');
  }

  /** Ships everything committed and stops. True when every replica took everything. */
  async shutdown(): Promise<boolean> {
    this.heartbeat?.stop();
    const dynamic = new Set(this.dirs?.paths ?? []);
    const [fixed, found] = await Promise.all([Promise.all(this.replicators.filter((r) => !dynamic.has(r.dbPath)).map((r) => r.shutdown())), this.dirs?.shutdown() ?? true]);
    const results = [...fixed, found];
    this.server?.close();
    return results.every(Boolean);
  }

  /** `replicate -force-snapshot`: every database takes a snapshot at its next capture. */
  forceSnapshot(): void {
    for (const r of this.replicators) r.forceSnapshot();
  }

  status(): DbStatus[] {
    return statusOf(this.replicators);
  }
}
