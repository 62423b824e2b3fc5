// The I/O half of directory entries: list the files under an entry's directory that its pattern
// names, and look at one to see whether it is a WAL-mode SQLite database. What counts is decided in
// config/dir-entry.ts.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { dbConfigFor, descendsInto, matchesEntry, relativeToEntry } from '../config/dir-entry.js';
import { classifyDbFile, type DbFileKind } from '../sqlite/db-header.js';
import type { DbConfig, DirConfig, WalshipConfig } from '../config/types.js';

/** Deeper than this, a scan stops (a loop of bind mounts, say). */
const MAX_DEPTH = 64;

/**
 * The files under the entry's directory whose names match, as absolute paths, sorted. Symbolic
 * links to directories are not followed (as Go's filepath.Walk, which Litestream uses). A missing
 * directory is an empty list. `under` starts the scan at a subdirectory of the entry's directory.
 */
export async function scanEntry(entry: DirConfig, under: string = entry.dir): Promise<string[]> {
  return (await walkEntry(entry, under)).files;
}

/** The subdirectories under `under` that the entry takes (recursive entries only), sorted. */
export async function scanEntryDirs(entry: DirConfig, under: string = entry.dir): Promise<string[]> {
  return (await walkEntry(entry, under)).dirs;
}

async function walkEntry(entry: DirConfig, under: string): Promise<{ files: string[]; dirs: string[] }> {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let items;
    try {
      items = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw new Error(`${entry.keyPath}.dir: cannot read ${dir}: ${code ?? (err as Error).message}`);
    }
    for (const it of items) {
      const full = path.join(dir, it.name);
      const rel = relativeToEntry(entry, full);
      if (rel === null) continue;
      if (it.isDirectory()) {
        if (depth < MAX_DEPTH && descendsInto(entry, rel)) {
          dirs.push(full);
          await walk(full, depth + 1);
        }
      } else if ((it.isFile() || it.isSymbolicLink()) && matchesEntry(entry, rel)) {
        files.push(full);
      }
    }
  };
  await walk(under, 0);
  return { files: files.sort(), dirs: dirs.sort() };
}

export type ProbeResult = DbFileKind | 'missing' | 'not-a-file';

/** Reads the file's first 100 bytes (nothing is written, no lock is taken). */
export async function probeDbFile(file: string): Promise<ProbeResult> {
  let fh;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'not-sqlite';
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return 'not-a-file';
    const head = Buffer.alloc(100);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return classifyDbFile(head.subarray(0, bytesRead), st.size);
  } finally {
    await fh.close();
  }
}

export interface EntryDatabases {
  dbs: DbConfig[];
  skipped: Array<{ path: string; kind: ProbeResult }>;
}

/** The entry's databases as they stand now (for `databases` and an offline `status`). */
export async function entryDatabasesNow(entry: DirConfig): Promise<EntryDatabases> {
  const out: EntryDatabases = { dbs: [], skipped: [] };
  for (const file of await scanEntry(entry)) {
    const kind = await probeDbFile(file);
    if (kind === 'wal') out.dbs.push(dbConfigFor(entry, relativeToEntry(entry, file)!));
    else out.skipped.push({ path: file, kind });
  }
  return out;
}

/** Every database of the config as of now: the `path:` entries, then what each `dir:` entry finds. */
export async function databasesNow(config: Pick<WalshipConfig, 'dbs' | 'dirs'>): Promise<DbConfig[]> {
  const out = [...config.dbs];
  const seen = new Set(out.map((d) => d.path));
  for (const entry of config.dirs) {
    for (const db of (await entryDatabasesNow(entry)).dbs) {
      if (!seen.has(db.path)) out.push(db);
      seen.add(db.path);
    }
  }
  return out;
}
