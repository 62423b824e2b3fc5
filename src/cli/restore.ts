// walship restore: rebuilds a database from a replica, never over an existing file.
import path from 'node:path';
import type { ReplicaConfig } from '../config/types.js';
import { createLogger } from '../log.js';
import { createReplicaClient } from '../replica/factory.js';
import { planReport, planReportText } from '../restore/plan-report.js';
import { restore, type RestoreOutcome } from '../restore/restore.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, findDb, isReplicaUrl, loadConfigFromArgs, replicaFromUrl, selectReplicas } from './config-source.js';
import { EXIT_OK, UsageError } from './errors.js';
import { renderTable } from './table.js';
import { durationFlag, parseTarget, restoreFlags, resultJson } from './restore-flags.js';
import { restoreAllCommand } from './restore-all.js';
import { DEFAULTS } from '../config/types.js';
import { buildConfigFromUrls } from '../config/load.js';
import { leaseSettings, type LeaseSettings } from '../config/lease.js';
import type { WalshipConfig } from '../config/types.js';
import type { LoadedConfig } from '../config/load.js';
import { LEASE_FLAGS, leaseFromFlags } from './lease-flags.js';

const FLAGS: Record<string, FlagSpec> = {
  ...CONFIG_FLAGS,
  o: { type: 'string', help: 'output path (default: the database path)' },
  timestamp: { type: 'string', help: 'restore the state at this RFC 3339 time' },
  txid: { type: 'string', help: 'restore up to this TXID (decimal, or 16 hex digits)' },
  replica: { type: 'string', help: 'restore from the replica with this name' },
  'if-db-not-exists': { type: 'boolean', help: 'do nothing, successfully, if the output exists' },
  'if-replica-exists': { type: 'boolean', help: 'do nothing, successfully, if the replica holds no backup' },
  'integrity-check': { type: 'string', help: 'none, quick (default) or full' },
  'dry-run': { type: 'boolean', help: 'print the plan (replica, files, sizes, TXIDs) and write nothing' },
  json: { type: 'boolean', help: 'print the plan (-dry-run) or the result as JSON on stdout; logs go to stderr' },
  parallelism: { type: 'string', help: 'files downloaded at once (default 4)' },
  f: { type: 'boolean', help: 'follow: after restoring, keep the output current until SIGTERM/SIGINT' },
  follow: { type: 'boolean', help: 'same as -f' },
  'follow-interval': { type: 'string', help: 'how often a follower polls the replica (default 1s)' },
  addr: { type: 'string', help: 'follower: serve /metrics, /healthz, /readyz and /status here (default: addr in the config)' },
  'ready-lag': { type: 'string', help: 'follower: /readyz fails while lag exceeds this (default: ready-lag in the config, or 1m)' },
  takeover: { type: 'boolean', help: "follower: once the primary's lease has run out, stop following and replicate this database to the replica (in this process)" },
  exec: { type: 'string', help: 'with -takeover: run this command once this process is the primary (as replicate -exec)' },
  ...LEASE_FLAGS,
  h: { type: 'boolean', help: 'show this help' },
};

export async function restoreCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs('restore', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('restore', '[flags] DB_PATH|REPLICA_URL  (or -config FILE alone: every database in it)', FLAGS)}\n`);
    return EXIT_OK;
  }
  if (args.positionals.length === 0 && args.strings.has('config')) return restoreAllCommand(args);
  if (args.positionals.length !== 1) throw new UsageError('restore: give exactly one DB_PATH or REPLICA_URL (or -config FILE alone, to restore every database in it)');
  const source = args.positionals[0]!;
  const target = parseTarget(args.strings.get('txid'), args.strings.get('timestamp'));
  const flags = restoreFlags(args);
  const { integrity } = flags;
  const json = args.booleans.has('json');
  const { dryRun } = flags;

  const following = args.booleans.has('f') || args.booleans.has('follow');
  if (following && target.txid !== undefined) throw new UsageError('restore: -f follows the latest state; it cannot be used with -txid');
  if (following && target.timestamp) throw new UsageError('restore: -f follows the latest state; it cannot be used with -timestamp');
  const intervalMs = durationFlag(args.strings.get('follow-interval'), 'follow-interval', 1000);
  const readyLagFlag = args.strings.get('ready-lag');
  const takeover = args.booleans.has('takeover');
  const exec = args.strings.get('exec');
  if (takeover && !following) throw new UsageError('restore: -takeover needs -f (a follower takes over)');
  if (exec !== undefined && !takeover) throw new UsageError('restore: -exec needs -takeover (the command starts once this process is the primary)');

  let replicas: ReplicaConfig[];
  let output = args.strings.get('o');
  const loaded = loadConfigFromArgs(args, false);
  const log = createLogger(loaded?.config.logLevel, loaded?.config.logFormat, json);
  for (const w of loaded?.warnings ?? []) log.warn({ event: 'config_warning' }, w);
  if (isReplicaUrl(source)) {
    if (!output) throw new UsageError('restore: -o OUT is required when restoring from a replica URL');
    // -replica still has to name the one replica there is (its type), never be ignored.
    replicas = selectReplicas(replicaFromUrl(source), args.strings.get('replica'));
  } else {
    const db = findDb(loaded, source);
    replicas = selectReplicas(db, args.strings.get('replica'));
    output ??= db.path;
  }
  const outputPath = path.resolve(output);
  const clients = replicas.map((r) => ({ name: r.name, client: createReplicaClient(r, { logger: log }) }));
  const started = Date.now();
  try {
    if (following) {
      // A follower's code (and what a takeover runs: replication, its HTTP server and metrics) is
      // loaded only here: a plain restore, an init container's start, does not wait for it.
      const [{ follow }, { ReplicationService }, { superviseReplication, Supervisor }] = await Promise.all([
        import('../follow/follow.js'),
        import('../replication/service.js'),
        import('./supervise.js'),
      ]);
      const stop = new AbortController();
      // The supervisor owns the signals from here: a follower that takes over goes on to replicate.
      const sup = new Supervisor();
      void sup.stopped.then(() => stop.abort());
      try {
        const outcome = await follow({
          replicas: clients,
          outputPath,
          integrity,
          ifDbNotExists: flags.ifDbNotExists,
          ifReplicaExists: flags.ifReplicaExists,
          intervalMs,
          busyTimeoutMs: 5000,
          addr: args.strings.get('addr') ?? loaded?.config.addr ?? null,
          readyLagMs: durationFlag(readyLagFlag, 'ready-lag', loaded?.config.readyLagMs ?? DEFAULTS.readyLagMs),
          log,
          signal: stop.signal,
          takeover,
        });
        if (outcome.kind === 'takeover') {
          const lease = leaseFromFlags(args, 'restore', loaded?.config.lease ?? null) ?? (outcome.leaseMs !== null ? leaseSettings(outcome.leaseMs, null) : null);
          const config = takeoverConfig(source, loaded, replicas, outputPath, lease, args.strings.get('addr') ?? null);
          const service = new ReplicationService(config, log);
          await service.start();
          return await superviseReplication(service, exec ?? null, sup, log);
        }
        if (outcome.kind === 'replica-empty') log.info({ event: 'restore_skipped', db: outputPath, reason: 'replica empty' }, 'no backup in the replica; nothing to follow');
        return EXIT_OK;
      } finally {
        sup.dispose();
      }
    }
    const outcome = await restore({ replicas: clients, outputPath, target, ...flags });
    switch (outcome.kind) {
      case 'database-exists':
        log.info({ event: 'restore_skipped', db: outputPath, reason: 'database exists' }, 'database exists; nothing restored');
        break;
      case 'replica-empty':
        log.info({ event: 'restore_skipped', db: outputPath, reason: 'replica empty' }, 'no backup in the replica; nothing restored');
        break;
      case 'planned': {
        const report = planReport(source, outputPath, outcome.replica, outcome.location, outcome.plan, outcome.outputExists);
        if (json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          const text = planReportText(report);
          process.stdout.write(`${text.header.join('\n')}\n\n${renderTable(text.rows)}`);
        }
        return EXIT_OK;
      }
      case 'restored':
        log.info({ event: 'restored', db: outputPath, replica: outcome.replica, txid: outcome.txid, files: outcome.files }, 'restored');
    }
    if (json) process.stdout.write(`${JSON.stringify(resultJson(outcome, outputPath, integrity, Date.now() - started), null, 2)}\n`);
    return EXIT_OK;
  } finally {
    await Promise.all(clients.map((c) => c.client.close().catch(() => undefined)));
  }
}

/** The replicate config a follower that took over runs: its database, the replica it followed. */
function takeoverConfig(source: string, loaded: LoadedConfig | null, replicas: ReplicaConfig[], outputPath: string, lease: LeaseSettings | null, addr: string | null): WalshipConfig {
  const fromUrl = isReplicaUrl(source);
  const built = fromUrl ? buildConfigFromUrls(outputPath, [source]).config : loaded!.config;
  const db = fromUrl ? built.dbs[0]! : findDb(loaded, source);
  return { ...built, addr: addr ?? built.addr, lease, dbs: [{ ...db, path: outputPath, replicas }] };
}
