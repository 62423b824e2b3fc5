// walship replicate: runs until SIGTERM or SIGINT, then ships everything committed and exits.
import { DEFAULTS, type DbConfig, type WalshipConfig } from '../config/types.js';
import { createLogger } from '../log.js';
import { createReplicaClient } from '../replica/factory.js';
import { DbReplicator } from '../replication/db-replicator.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, isReplicaUrl, loadConfigFromArgs, replicaFromUrl } from './config-source.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './errors.js';
import path from 'node:path';
import { startHttpServer } from '../server/http-server.js';
import { Metrics } from '../server/metrics.js';
import { observe } from '../server/observe.js';

const FLAGS: Record<string, FlagSpec> = { ...CONFIG_FLAGS, h: { type: 'boolean', help: 'show this help' } };

export async function replicateCommand(argv: readonly string[]): Promise<number> {
  // Listen first: a SIGTERM that arrives during start-up must still end in a clean, shipped stop.
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const args = parseArgs('replicate', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('replicate', '[-config FILE] | DB_PATH REPLICA_URL...', FLAGS)}\n`);
    return EXIT_OK;
  }
  let config: WalshipConfig;
  const warnings: string[] = [];
  if (args.positionals.length > 0) {
    // Litestream's ad-hoc form: replicate DB_PATH REPLICA_URL [REPLICA_URL...]
    const [dbPath, ...urls] = args.positionals;
    if (urls.length === 0 || !urls.every(isReplicaUrl)) throw new UsageError('replicate: give DB_PATH followed by one or more replica URLs, or -config FILE');
    const replicas = urls.map(replicaFromUrl);
    replicas.forEach((r, i) => (r.name = replicas.length > 1 ? `${r.type}${i}` : r.type));
    config = {
      addr: null,
      readyLagMs: DEFAULTS.readyLagMs,
      logLevel: null,
      shutdownSyncTimeoutMs: DEFAULTS.shutdownSyncTimeoutMs,
      levelIntervalsMs: [...DEFAULTS.levelIntervalsMs],
      l0RetentionMs: DEFAULTS.l0RetentionMs,
      exec: null,
      dbs: [dbFromArgs(dbPath!, replicas)],
    };
  } else {
    const loaded = loadConfigFromArgs(args, true)!;
    config = loaded.config;
    warnings.push(...loaded.warnings);
  }

  const log = createLogger(config.logLevel);
  for (const w of warnings) log.warn({ event: 'config_warning' }, w);
  // The metrics read the replicators lazily, at scrape time.
  let replicatorsRef: DbReplicator[] = [];
  const metrics = new Metrics({
    dbs: () => replicatorsRef.map((r) => ({ db: r.dbPath, localTxid: r.capture.position?.txid ?? 0, stagedBytes: r.stagingBytes })),
    replicas: () =>
      replicatorsRef.flatMap((r) =>
        r.shipperStatus().map((s) => ({ db: r.dbPath, replica: s.name, remoteTxid: s.remote[0] ?? 0, lagSeconds: s.lagSeconds })),
      ),
  });
  const replicators = config.dbs.map(
    (db) =>
      new DbReplicator(
        {
          dbPath: db.path,
          replicas: db.replicas.map((r) => ({
            name: r.name,
            client: createReplicaClient(r, { logger: log }),
            syncIntervalMs: r.syncIntervalMs,
            backlogLimitBytes: r.backlogLimitBytes,
            retentionMs: r.retentionMs,
            retentionCheckIntervalMs: r.retentionCheckIntervalMs,
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
        },
        log.child({}),
        metrics,
      ),
  );

  replicatorsRef = replicators;
  // Start (and take each database's replicator lock) before listening, so a refused second
  // replicator fails on the lock, not on a busy port.
  for (const r of replicators) await r.start();
  const server = config.addr ? await startHttpServer(config.addr, observe(replicators, metrics, config.readyLagMs), log) : null;
  log.info({ event: 'started', dbs: config.dbs.map((d) => d.path) }, 'replicating');
  const signal = await stopped;
  log.info({ event: 'stopping', signal }, 'shutting down: shipping everything committed');
  const results = await Promise.all(replicators.map((r) => r.shutdown()));
  server?.close();
  return results.every(Boolean) ? EXIT_OK : EXIT_FAILURE;
}

function dbFromArgs(dbPath: string, replicas: DbConfig['replicas']): DbConfig {
  return {
    path: path.resolve(dbPath),
    monitorIntervalMs: DEFAULTS.monitorIntervalMs,
    checkpointIntervalMs: DEFAULTS.checkpointIntervalMs,
    busyTimeoutMs: DEFAULTS.busyTimeoutMs,
    minCheckpointPageN: DEFAULTS.minCheckpointPageN,
    truncatePageN: DEFAULTS.truncatePageN,
    replicas,
    keyPath: 'command line',
  };
}
