// The databases `restore -config F` (no DB_PATH) restores: every `path:` entry, and each `dir:`
// entry's databases as its replicas hold them. Those are found by listing the replicas
// (replica/tree.ts), since the local directory may be empty (restore is the init container's
// job); each goes under the entry's `dir` at its relative path.
import type { Logger } from 'pino';
import { dbConfigFor } from '../config/dir-entry.js';
import type { DbConfig, WalshipConfig } from '../config/types.js';
import { openReplicaTree } from '../replica/tree-backends.js';
import { findReplicaDatabases } from '../replica/tree.js';

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
