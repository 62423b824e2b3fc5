// walship ltx: lists a replica's LTX files.
import { RESTORE_LEVELS } from '../replica/layout.js';
import { createLogger } from '../log.js';
import { createReplicaClient } from '../replica/factory.js';
import { formatTXID } from '../ltx/format.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, findDb, isReplicaUrl, loadConfigFromArgs, replicaFromUrl, selectReplicas } from './config-source.js';
import { EXIT_OK, UsageError } from './errors.js';
import { renderTable } from './table.js';

const FLAGS: Record<string, FlagSpec> = {
  ...CONFIG_FLAGS,
  level: { type: 'string', help: 'a level (0-3, 9) or all (default all)' },
  json: { type: 'boolean', help: 'print JSON instead of a table' },
  replica: { type: 'string', help: 'the replica with this name (default: the first)' },
  h: { type: 'boolean', help: 'show this help' },
};

export async function ltxCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs('ltx', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('ltx', '[-config FILE] [-level N|all] DB_PATH|REPLICA_URL', FLAGS)}\n`);
    return EXIT_OK;
  }
  if (args.positionals.length !== 1) throw new UsageError('ltx: give exactly one DB_PATH or REPLICA_URL');
  const source = args.positionals[0]!;
  const levelArg = args.strings.get('level') ?? 'all';
  let levels: number[];
  if (levelArg === 'all') levels = [...RESTORE_LEVELS].reverse();
  else if (/^\d$/.test(levelArg) && (RESTORE_LEVELS as readonly number[]).includes(Number(levelArg))) levels = [Number(levelArg)];
  else throw new UsageError(`ltx: -level must be 0, 1, 2, 3, 9 or all, not "${levelArg}"`);

  const replica = isReplicaUrl(source)
    ? selectReplicas(replicaFromUrl(source), args.strings.get('replica'))[0]!
    : selectReplicas(findDb(loadConfigFromArgs(args, false), source), args.strings.get('replica'))[0]!;
  const client = createReplicaClient(replica, { logger: createLogger('warn') });
  try {
    const files = [];
    for (const level of levels) files.push(...(await client.listLtxFiles(level)));
    if (args.booleans.has('json')) {
      process.stdout.write(`${JSON.stringify(files.map((f) => ({ ...f, minTXID: formatTXID(f.minTXID), maxTXID: formatTXID(f.maxTXID) })))}\n`);
      return EXIT_OK;
    }
    const rows: string[][] = [['LEVEL', 'MIN_TXID', 'MAX_TXID', 'SIZE', 'CREATED']];
    for (const f of files) rows.push([String(f.level), formatTXID(f.minTXID), formatTXID(f.maxTXID), String(f.size), f.createdAt.toISOString()]);
    process.stdout.write(renderTable(rows));
    return EXIT_OK;
  } finally {
    await client.close();
  }
}
