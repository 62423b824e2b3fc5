// walship status: per database and replica, local and replica TXID, lag, last sync and last error.
// Asks the running replicator (its /status endpoint on `addr`); without one, it reads staging and
// lists the replicas itself, which cannot know lag or the replicator's last error.
import { SNAPSHOT_LEVEL } from '../replica/layout.js';
import { createLogger } from '../log.js';
import { createReplicaClient } from '../replica/factory.js';
import { listReplica } from '../replica/listing.js';
import { Staging } from '../replication/staging.js';
import { databasesNow } from '../replication/dir-scan.js';
import { localBaseUrl } from '../server/http-server.js';
import type { DbStatus } from '../server/observe.js';
import type { WalshipConfig } from '../config/types.js';
import { parseArgs, usage, type FlagSpec } from './args.js';
import { CONFIG_FLAGS, loadConfigFromArgs } from './config-source.js';
import { EXIT_OK } from './errors.js';
import { renderTable } from './table.js';

const FLAGS: Record<string, FlagSpec> = {
  ...CONFIG_FLAGS,
  json: { type: 'boolean', help: 'print JSON instead of a table' },
  h: { type: 'boolean', help: 'show this help' },
};

interface StatusReport {
  source: 'replicator' | 'offline';
  dbs: DbStatus[];
}

export async function statusCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs('status', argv, FLAGS);
  if (args.booleans.has('h')) {
    process.stdout.write(`${usage('status', '[-config FILE] [-json]', FLAGS)}\n`);
    return EXIT_OK;
  }
  const { config } = loadConfigFromArgs(args, true)!;
  const report = (await fromReplicator(config)) ?? (await offline(config));
  if (args.booleans.has('json')) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return EXIT_OK;
  }
  const rows = [['DB', 'REPLICA', 'LOCAL_TXID', 'REPLICA_TXID', 'LAG', 'LAST_SYNC', 'LAST_ERROR']];
  for (const d of report.dbs) {
    for (const r of d.replicas) {
      rows.push([d.db, r.name, String(d.txid), String(r.txid), r.lagSeconds === null ? '-' : `${r.lagSeconds}s`, r.lastSyncAt ?? '-', r.lastError ?? '-']);
    }
  }
  process.stdout.write(renderTable(rows));
  if (report.source === 'offline') process.stdout.write('(no running replicator answered on addr; lag and errors are unknown)\n');
  return EXIT_OK;
}

async function fromReplicator(config: WalshipConfig): Promise<StatusReport | null> {
  if (!config.addr) return null;
  try {
    const res = await fetch(`${localBaseUrl(config.addr)}/status`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return null;
    return { source: 'replicator', dbs: (await res.json()) as DbStatus[] };
  } catch {
    return null;
  }
}

async function offline(config: WalshipConfig): Promise<StatusReport> {
  const dbs: StatusReport['dbs'] = [];
  for (const db of await databasesNow(config)) {
    const staging = new Staging(db.path);
    const staged = await staging.list(0);
    const replicas = [];
    for (const r of db.replicas) {
      const client = createReplicaClient(r, { logger: createLogger('warn') });
      try {
        const listing = await listReplica(client);
        const files = [...listing.values()].flat();
        const newest = files.reduce<Date | null>((m, f) => (!m || f.createdAt > m ? f.createdAt : m), null);
        const txid = Math.max(0, ...(listing.get(0) ?? []).map((f) => f.maxTXID), ...(listing.get(SNAPSHOT_LEVEL) ?? []).map((f) => f.maxTXID));
        replicas.push({ name: r.name, txid, lagSeconds: null, lastSyncAt: newest?.toISOString() ?? null, lastError: null, backlogOverflowed: false });
      } catch (err) {
        replicas.push({ name: r.name, txid: 0, lagSeconds: null, lastSyncAt: null, lastError: (err as Error).message, backlogOverflowed: false });
      } finally {
        await client.close();
      }
    }
    dbs.push({ db: db.path, txid: staged.at(-1)?.maxTXID ?? 0, stagingBytes: staged.reduce((n, f) => n + f.size, 0), replicas });
  }
  return { source: 'offline', dbs };
}
