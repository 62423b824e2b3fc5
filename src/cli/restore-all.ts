// walship restore -config FILE (no DB_PATH): every database of the config, directory entries'
// included (replication/restore-targets.ts finds them, restore/restore-all.ts restores them); this
// file reads the flags and prints.
import { createLogger } from '../log.js';
import { createReplicaClient } from '../replica/factory.js';
import { planReport, planReportText } from '../restore/plan-report.js';
import { restoreAll } from '../restore/restore-all.js';
import { restoreTargets } from '../replication/restore-targets.js';
import { restore } from '../restore/restore.js';
import type { ParsedArgs } from './args.js';
import { loadConfigFromArgs, selectReplicas } from './config-source.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './errors.js';
import { parseTarget, restoreFlags, resultJson } from './restore-flags.js';
import { renderTable } from './table.js';

/** Databases restored at once (each also fetches -parallelism files at once). */
const DATABASES_AT_ONCE = 4;

export async function restoreAllCommand(args: ParsedArgs): Promise<number> {
  for (const flag of ['o', 'txid', 'follow-interval', 'addr', 'ready-lag']) {
    if (args.strings.has(flag)) throw new UsageError(`restore: -${flag} needs a DB_PATH; with -config alone every database is restored to its own path`);
  }
  if (args.booleans.has('f') || args.booleans.has('follow')) throw new UsageError('restore: -f needs a DB_PATH');
  const target = parseTarget(undefined, args.strings.get('timestamp'));
  const flags = restoreFlags(args);
  const { integrity, dryRun } = flags;
  const json = args.booleans.has('json');
  const replicaName = args.strings.get('replica');

  const loaded = loadConfigFromArgs(args, true)!;
  const log = createLogger(loaded.config.logLevel, loaded.config.logFormat, json);
  for (const w of loaded.warnings) log.warn({ event: 'config_warning' }, w);
  const dbs = await restoreTargets(loaded.config, log);
  const started = Date.now();
  const results = await restoreAll({
    dbs,
    dryRun,
    concurrency: DATABASES_AT_ONCE,
    restoreOne: async (db) => {
      const clients = selectReplicas(db, replicaName).map((r) => ({ name: r.name, client: createReplicaClient(r, { logger: log }) }));
      try {
        return await restore({ replicas: clients, outputPath: db.path, target, ...flags });
      } finally {
        await Promise.all(clients.map((c) => c.client.close().catch(() => undefined)));
      }
    },
  });

  const failed = results.filter((r) => 'error' in r).length;
  const jsonOut: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  for (const r of results) {
    const where = r.db.keyPath;
    if ('error' in r) {
      log.error({ event: 'restore_failed', db: r.db.path, entry: where, err: r.error }, 'restore failed');
      jsonOut.push({ db_path: r.db.path, error: r.error });
      text.push(`${r.db.path}: FAILED: ${r.error}`);
      continue;
    }
    const o = r.outcome;
    if (o.kind === 'planned') {
      const report = planReport(where, r.db.path, o.replica, o.location, o.plan, o.outputExists);
      jsonOut.push({ ...report });
      const t = planReportText(report);
      text.push(`${t.header.join('\n')}\n\n${renderTable(t.rows)}`);
      continue;
    }
    if (o.kind === 'restored') log.info({ event: 'restored', db: r.db.path, replica: o.replica, txid: o.txid, files: o.files }, 'restored');
    else log.info({ event: 'restore_skipped', db: r.db.path, reason: o.kind === 'database-exists' ? 'database exists' : 'replica empty' }, 'nothing restored');
    jsonOut.push(resultJson(o, r.db.path, integrity, Date.now() - started));
    if (dryRun) text.push(`${r.db.path}: ${o.kind === 'database-exists' ? 'exists; skipped (-if-db-not-exists)' : 'no backup in the replica; skipped (-if-replica-exists)'}`);
  }
  log.info({ event: 'restore_all_done', dbs: results.length, failed, dryRun }, dryRun ? 'restore plan made' : 'restore of every database done');
  if (json) process.stdout.write(`${JSON.stringify(jsonOut, null, 2)}\n`);
  else if (dryRun) process.stdout.write(results.length === 0 ? 'restore plan (dry run): no databases found in the config or its replicas\n' : `${text.join('\n\n')}\n`);
  else if (failed > 0) process.stderr.write(`${text.join('\n')}\n`);
  return failed > 0 ? EXIT_FAILURE : EXIT_OK;
}
