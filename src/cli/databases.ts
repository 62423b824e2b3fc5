// walship databases: the configured databases and their replicas, with the databases each
// directory entry finds now (WAL-mode SQLite files its pattern names).
import { createReplicaClient } from '../replica/factory.js';
import { databasesNow } from '../replication/dir-scan.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, loadConfigFromArgs } from './config-source.js';
import { EXIT_OK } from './errors.js';
import { renderTable } from './table.js';

const FLAGS: Record<string, FlagSpec> = { ...CONFIG_FLAGS, h: { type: 'boolean', help: 'show this help' } };

export async function databasesCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs('databases', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('databases', '[-config FILE]', FLAGS)}\n`);
    return EXIT_OK;
  }
  const { config } = loadConfigFromArgs(args, true)!;
  const rows = [['PATH', 'REPLICA', 'TYPE', 'LOCATION']];
  for (const db of await databasesNow(config)) {
    for (const r of db.replicas) {
      const client = createReplicaClient(r);
      rows.push([db.path, r.name, r.type, client.location]);
      await client.close();
    }
  }
  process.stdout.write(renderTable(rows));
  return EXIT_OK;
}
