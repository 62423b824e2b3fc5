// walship reset: drops a database's local staging so the next start captures it afresh.
import path from 'node:path';
import { resetStaging } from '../replication/reset.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, findDb, loadConfigFromArgs } from './config-source.js';
import { EXIT_OK, UsageError } from './errors.js';

const FLAGS: Record<string, FlagSpec> = {
  ...CONFIG_FLAGS,
  'dry-run': { type: 'boolean', help: 'list what would be removed; remove nothing' },
  h: { type: 'boolean', help: 'show this help' },
};

export async function resetCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs('reset', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('reset', '[-config FILE] [-dry-run] DB_PATH', FLAGS)}\n`);
    return EXIT_OK;
  }
  if (args.positionals.length !== 1) throw new UsageError('reset: give exactly one DB_PATH');
  const dbPath = path.resolve(args.positionals[0]!);
  // With -config, the database must be one it lists (a typo then fails instead of resetting nothing).
  if (args.strings.has('config')) findDb(loadConfigFromArgs(args, true), dbPath);
  const dryRun = args.booleans.has('dry-run');
  const result = await resetStaging(dbPath, { dryRun });
  const out: string[] = [];
  if (!result.existed) {
    out.push(`no local state to reset for ${dbPath} (${result.stagingDir} does not exist)`);
  } else if (dryRun) {
    out.push(`dry run: would remove from ${result.stagingDir}:`, ...result.files.map((f) => `  ${f}`), 'nothing was removed');
  } else {
    out.push(`reset ${dbPath}: removed ${result.files.length} files from ${result.stagingDir}`, 'the next replicate captures the database afresh');
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT_OK;
}
