// walship validate: restores each replica of a database at the current TXID into a temporary file
// and compares it with the live database. Exits 1 on any mismatch. Asks the running replicator when
// one answers on `addr`; otherwise runs a replicator of its own for the check.
import { assertDatabaseFiles } from '../config/db-file.js';
import { localBaseUrl } from '../server/http-server.js';
import { createLogger } from '../log.js';
import { ReplicationService } from '../replication/service.js';
import type { ValidationResult } from '../replication/validation.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, findDb, loadConfigFromArgs } from './config-source.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './errors.js';
import { renderTable } from './table.js';

const FLAGS: Record<string, FlagSpec> = { ...CONFIG_FLAGS, h: { type: 'boolean', help: 'show this help' } };

export async function validateCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs('validate', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('validate', '[-config FILE] DB_PATH', FLAGS)}\n`);
    return EXIT_OK;
  }
  if (args.positionals.length !== 1) throw new UsageError('validate: give exactly one DB_PATH');
  const loaded = loadConfigFromArgs(args, true)!;
  const db = findDb(loaded, args.positionals[0]!);
  assertDatabaseFiles([db]);
  let results = await askRunningReplicator(loaded.config.addr, db.path);
  if (!results) {
    const log = createLogger(loaded.config.logLevel ?? 'warn', loaded.config.logFormat);
    const service = new ReplicationService({ ...loaded.config, addr: null, dbs: [db], dirs: [] }, log);
    await service.start();
    try {
      results = await service.replicators[0]!.validate();
    } finally {
      await service.shutdown();
    }
  }
  const rows = [['REPLICA', 'TXID', 'RESULT', 'EXPECTED', 'ACTUAL']];
  for (const r of results) rows.push([r.replica, String(r.txid), r.ok ? 'ok' : r.error ?? 'MISMATCH', r.expected, r.actual ?? '-']);
  process.stdout.write(renderTable(rows));
  return results.length > 0 && results.every((r) => r.ok) ? EXIT_OK : EXIT_FAILURE;
}

async function askRunningReplicator(addr: string | null, dbPath: string): Promise<ValidationResult[] | null> {
  if (!addr) return null;
  try {
    const res = await fetch(`${localBaseUrl(addr)}/validate?db=${encodeURIComponent(dbPath)}`, { signal: AbortSignal.timeout(120_000) });
    if (!res.ok) return null;
    return ((await res.json()) as { results: ValidationResult[] }).results;
  } catch {
    return null;
  }
}
