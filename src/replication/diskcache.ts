// Python's diskcache keeps every value of at least disk_min_file_size bytes (32 KiB by default) in
// a file of its own, <dir>/<2 hex>/<2 hex>/<28 hex>.val beside cache.db, and only the file's name
// in the database. walship replicates the database file alone, so after a restore those entries
// are misses. This finds such files so walship can say so once, at start.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** Directory entries read at most, over the whole scan: a start-up check, never a crawl. */
export const MAX_ENTRIES_SCANNED = 20_000;

const HEX2 = /^[0-9a-f]{2}$/;

export interface DiskcacheValues {
  /** The directory holding the value files (the database's directory). */
  dir: string;
  count: number;
  bytes: number;
  /** False when the scan stopped at MAX_ENTRIES_SCANNED: count and bytes are then lower bounds. */
  complete: boolean;
}

/**
 * Counts diskcache value files beside `dbPath`, or null when there are none. Reads at most
 * `maxEntries` directory entries; a directory it cannot read is skipped, never an error.
 */
export async function detectDiskcacheValues(dbPath: string, maxEntries = MAX_ENTRIES_SCANNED): Promise<DiskcacheValues | null> {
  const dir = path.dirname(path.resolve(dbPath));
  const found: DiskcacheValues = { dir, count: 0, bytes: 0, complete: true };
  let budget = maxEntries;
  // Yields the names in `d` that pass `keep`, spending one unit of budget per entry read.
  const entries = async (d: string, keep: (name: string, isDir: boolean) => boolean): Promise<string[]> => {
    const out: string[] = [];
    let handle;
    try {
      handle = await fsp.opendir(d);
    } catch {
      return out;
    }
    try {
      for await (const e of handle) {
        if (budget-- <= 0) {
          found.complete = false;
          break;
        }
        if (keep(e.name, e.isDirectory())) out.push(e.name);
      }
    } catch {
      // A directory that vanished or turned unreadable mid-scan counts as what was read of it.
    } finally {
      await handle.close().catch(() => undefined);
    }
    return out;
  };
  for (const a of await entries(dir, (n, isDir) => isDir && HEX2.test(n))) {
    for (const b of await entries(path.join(dir, a), (n, isDir) => isDir && HEX2.test(n))) {
      const leaf = path.join(dir, a, b);
      for (const name of await entries(leaf, (n, isDir) => !isDir && n.endsWith('.val'))) {
        try {
          const st = await fsp.lstat(path.join(leaf, name));
          if (!st.isFile()) continue;
          found.count++;
          found.bytes += st.size;
        } catch {
          // Deleted by diskcache between the listing and the stat: not there, not counted.
        }
      }
      if (!found.complete) break;
    }
    if (!found.complete) break;
  }
  return found.count > 0 ? found : null;
}

/**
 * Scans of the directories already looked at, by directory: databases that share a directory share
 * its scan (a thousand databases in one directory read it once, not a thousand times).
 */
const scans = new Map<string, Promise<DiskcacheValues | null>>();

/** Logs one warning when diskcache value files sit beside the database; never throws. */
export async function warnDiskcacheValues(dbPath: string, log: Logger): Promise<void> {
  const dir = path.dirname(path.resolve(dbPath));
  let scan = scans.get(dir);
  if (!scan) {
    scan = detectDiskcacheValues(dbPath).catch(() => null);
    scans.set(dir, scan);
    // Kept for the start-up burst only: a restart of one database later scans again.
    void scan.then(() => setTimeout(() => scans.delete(dir), 60_000).unref());
  }
  const v = await scan;
  if (!v) return;
  const some = v.complete ? `${v.count}` : `at least ${v.count}`;
  log.warn(
    { event: 'diskcache_values_not_replicated', db: dbPath, dir: v.dir, files: v.count, bytes: v.bytes, complete: v.complete },
    `${some} diskcache value files (${v.bytes} bytes) in ${v.dir} are not replicated: only the database is, so these entries are misses after a restore; raise disk_min_file_size or replicate the directory by other means`,
  );
}
