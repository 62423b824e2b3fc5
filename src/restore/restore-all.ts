// Restoring many databases at once (`restore -config F` with no DB_PATH): each is an ordinary
// restore (restore.ts), a bounded number at a time; one that fails does not stop the others. Which
// databases a config stands for is replication/restore-targets.ts.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RestoreOutcome } from './restore.js';
import { eachLimited } from '../util/limit.js';

/** One database to restore: where it goes (and whatever else the caller needs to restore it). */
export interface RestoreAllItem {
  path: string;
}

export interface RestoreAllRequest<T extends RestoreAllItem> {
  dbs: readonly T[];
  /** The restore of one database, as `restore DB_PATH` does it; told whether to plan only. */
  restoreOne: (db: T) => Promise<RestoreOutcome>;
  dryRun: boolean;
  /** Databases restored at once. */
  concurrency: number;
}

export type RestoreAllResult<T> = { db: T; outcome: RestoreOutcome } | { db: T; error: string };

/**
 * Restores (or, dry, plans) each database; one that fails does not stop the others. The directory a
 * nested database goes into is made first (never on a dry run).
 */
export function restoreAll<T extends RestoreAllItem>(req: RestoreAllRequest<T>): Promise<Array<RestoreAllResult<T>>> {
  return eachLimited(req.dbs, req.concurrency, async (db) => {
    try {
      if (!req.dryRun) await fsp.mkdir(path.dirname(db.path), { recursive: true });
      return { db, outcome: await req.restoreOne(db) };
    } catch (err) {
      return { db, error: (err as Error).message };
    }
  });
}
