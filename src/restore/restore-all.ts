// `restore -config F` with no DB_PATH: every database the config names, a directory entry's
// included. A `path:` entry is one database; a `dir:` entry's databases are found by listing its
// replicas (replica/tree.ts), since the local directory may be empty, and each is restored under
// the entry's `dir` at its relative path. Each database is then an ordinary restore (restore.ts).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { dbConfigFor } from '../config/dir-entry.js';
import type { DbConfig, WalshipConfig } from '../config/types.js';
import { openReplicaTree } from '../replica/tree-backends.js';
import { findReplicaDatabases } from '../replica/tree.js';
import type { RestoreOutcome } from './restore.js';
import { eachLimited } from '../util/limit.js';

/** The databases a config stands for on its replicas, `path:` entries first, in config order. */
export async function restoreTargets(config: WalshipConfig, logger?: Logger): Promise<DbConfig[]> {
  const out: DbConfig[] = [...config.dbs];
  const seen = new Set(out.map((d) => d.path));
  for (const entry of config.dirs) {
    const rels = new Set<string>();
    for (const r of entry.template.replicas) {
      const tree = openReplicaTree(r, logger);
      try {
        for (const rel of await findReplicaDatabases(tree, entry)) rels.add(rel);
      } catch (err) {
        throw new Error(`${r.keyPath}: cannot list the databases of ${entry.keyPath}: ${(err as Error).message}`);
      } finally {
        await tree.close().catch(() => undefined);
      }
    }
    for (const rel of [...rels].sort()) {
      const db = dbConfigFor(entry, rel);
      if (seen.has(db.path)) continue;
      seen.add(db.path);
      out.push(db);
    }
  }
  return out;
}


export interface RestoreAllRequest {
  dbs: readonly DbConfig[];
  /** The restore of one database, as `restore DB_PATH` does it; told whether to plan only. */
  restoreOne: (db: DbConfig) => Promise<RestoreOutcome>;
  dryRun: boolean;
  /** Databases restored at once. */
  concurrency: number;
}

export type RestoreAllResult = { db: DbConfig; outcome: RestoreOutcome } | { db: DbConfig; error: string };

/**
 * Restores (or, dry, plans) each database; one that fails does not stop the others. The directory a
 * nested database goes into is made first (never on a dry run).
 */
export function restoreAll(req: RestoreAllRequest): Promise<RestoreAllResult[]> {
  return eachLimited(req.dbs, req.concurrency, async (db) => {
    try {
      if (!req.dryRun) await fsp.mkdir(path.dirname(db.path), { recursive: true });
      return { db, outcome: await req.restoreOne(db) };
    } catch (err) {
      return { db, error: (err as Error).message };
    }
  });
}
