// walship replicate: runs until SIGTERM or SIGINT (or until the -exec child exits), then ships
// everything committed and exits.
import { assertDatabaseFiles, assertEntryDirs } from '../config/db-file.js';
import { buildConfigFromUrls } from '../config/load.js';
import type { WalshipConfig } from '../config/types.js';
import { createLogger } from '../log.js';
import { ReplicationService } from '../replication/service.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, isReplicaUrl, loadConfigFromArgs } from './config-source.js';
import { takeEarlySignals } from './early-signals.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './errors.js';
import { LEASE_FLAGS, leaseFromFlags } from './lease-flags.js';
import { superviseReplication, Supervisor } from './supervise.js';

const FLAGS: Record<string, FlagSpec> = {
  ...CONFIG_FLAGS,
  exec: { type: 'string', help: 'run this command as a child; stop (and exit with its status) when it exits' },
  once: { type: 'boolean', help: 'capture and ship everything committed once, then exit (1 if a replica did not take it all)' },
  'force-snapshot': { type: 'boolean', help: 'with -once: also take a snapshot and ship it' },
  ...LEASE_FLAGS,
  h: { type: 'boolean', help: 'show this help' },
};

export async function replicateCommand(argv: readonly string[]): Promise<number> {
  // Listen first: a SIGTERM that arrives during start-up must still end in a clean, shipped stop.
  const sup = new Supervisor(takeEarlySignals());
  try {
    return await replicate(argv, sup);
  } finally {
    sup.dispose();
  }
}

async function replicate(argv: readonly string[], sup: Supervisor): Promise<number> {
  const args = parseArgs('replicate', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('replicate', '[-config FILE] [-exec CMD | -once [-force-snapshot]] | DB_PATH REPLICA_URL...', FLAGS)}\n`);
    return EXIT_OK;
  }
  const { config, warnings } = configFromArgs(args);
  assertDatabaseFiles(config.dbs);
  config.lease = leaseFromFlags(args, 'replicate', config.lease);
  assertEntryDirs(config.dirs);
  const once = args.booleans.has('once');
  const exec = args.strings.get('exec') ?? config.exec;
  // Litestream's rules for these flags.
  if (once && exec) throw new UsageError('replicate: -once cannot be used with -exec');
  if (args.booleans.has('force-snapshot') && !once) throw new UsageError('replicate: -force-snapshot needs -once');
  const log = createLogger(config.logLevel, config.logFormat);
  for (const w of warnings) log.warn({ event: 'config_warning' }, w);

  const service = new ReplicationService(config, log, { once });
  await service.start();
  if (once) {
    if (args.booleans.has('force-snapshot')) service.forceSnapshot();
    // A stop ships everything committed, bounded by shutdown-sync-timeout: that is one sync.
    const shipped = await service.shutdown();
    log.info({ event: 'once_complete', shipped }, shipped ? 'one-shot replication complete' : 'one-shot replication left files unshipped');
    return shipped ? EXIT_OK : EXIT_FAILURE;
  }
  return superviseReplication(service, exec, sup, log);
}

function configFromArgs(args: ReturnType<typeof parseArgs>): { config: WalshipConfig; warnings: string[] } {
  if (args.positionals.length === 0) {
    const loaded = loadConfigFromArgs(args, true)!;
    return { config: loaded.config, warnings: loaded.warnings };
  }
  // Litestream's ad-hoc form: replicate DB_PATH REPLICA_URL [REPLICA_URL...]
  const [dbPath, ...urls] = args.positionals;
  if (urls.length === 0 || !urls.every(isReplicaUrl)) throw new UsageError('replicate: give DB_PATH followed by one or more replica URLs, or -config FILE');
  return buildConfigFromUrls(dbPath!, urls);
}
