// The walship command: dispatches to a subcommand and turns any error into one line on stderr
// and an exit status (0 ok, 1 runtime failure, 2 usage or config error).
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/config-error.js';
import { takeEarlySignals } from './early-signals.js';
import { EXIT_FAILURE, EXIT_USAGE, UsageError } from './errors.js';

type Command = (argv: readonly string[]) => Promise<number>;

/**
 * Each command's module is loaded when it runs: a restore (an init container's start) or a status
 * query does not wait for replication's code, its HTTP server and its metrics to load.
 */
const COMMANDS: Record<string, Command> = {
  replicate: async (argv) => (await import('./replicate.js')).replicateCommand(argv),
  restore: async (argv) => (await import('./restore.js')).restoreCommand(argv),
  ltx: async (argv) => (await import('./ltx.js')).ltxCommand(argv),
  snapshots: async (argv) => (await import('./snapshots.js')).snapshotsCommand(argv),
  status: async (argv) => (await import('./status.js')).statusCommand(argv),
  databases: async (argv) => (await import('./databases.js')).databasesCommand(argv),
  validate: async (argv) => (await import('./validate.js')).validateCommand(argv),
  reset: async (argv) => (await import('./reset.js')).resetCommand(argv),
  version: async () => {
    process.stdout.write(`walship ${packageVersion()}\n`);
    return 0;
  },
};

const HELP = `walship: continuous replication for SQLite

usage: walship <command> [flags]

commands:
  replicate   capture the WAL and ship it to every replica until SIGTERM
  restore     rebuild a database from a replica
  ltx         list a replica's LTX files
  snapshots   list a replica's snapshots (level 9)
  status      local and replica TXID, lag, last sync and last error per replica
  databases   list the configured databases and their replicas
  validate    restore each replica into a temporary file and compare it with the database
  reset       drop a database's local staging so the next replicate captures it afresh
  version     print the version

Run walship <command> -h for a command's flags.
`;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(HELP);
    return command ? 0 : EXIT_USAGE;
  }
  const run = COMMANDS[command];
  // Only replicate has a clean stop to make; any other command ends as a signal would end it.
  if (command !== 'replicate') {
    const early = takeEarlySignals();
    if (early.length > 0) return 128 + (early[0] === 'SIGINT' ? 2 : 15);
  }
  if (!run) {
    process.stderr.write(`walship: unknown command "${command}" (try walship help)\n`);
    return EXIT_USAGE;
  }
  try {
    return await run(rest);
  } catch (err) {
    const e = err as Error;
    const oneLine = e.message.replace(/\s*\n\s*/g, ' ');
    process.stderr.write(`walship ${command}: ${oneLine}\n`);
    return e instanceof UsageError || e instanceof ConfigError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit explicitly: a stray handle in a dependency must not keep a finished command alive.
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`walship: ${(err as Error).message}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
