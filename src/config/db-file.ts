// What a configured database path must be when replication starts: a SQLite file, or nothing yet
// (walship waits for the application to create it). A directory or another kind of file is a
// config error, found before anything (a staging directory, a lock) is created beside it.
// Checked at replicate/validate start, not at config load: restore and the listing commands must
// keep working when the live database is damaged or gone.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { ConfigError } from './config-error.js';
import type { DbConfig, DirConfig } from './types.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Null when `db.path` is absent, empty or starts with the SQLite header; otherwise why not. */
export function databaseFileProblem(dbPath: string): string | null {
  let st;
  try {
    st = statSync(dbPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return `cannot be read (${code ?? (err as Error).message})`;
  }
  if (st.isDirectory()) return 'is a directory, not a SQLite database file';
  if (!st.isFile()) return 'is not a regular file';
  if (st.size === 0) return null;
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  let n = 0;
  let fd: number | null = null;
  try {
    fd = openSync(dbPath, 'r');
    n = readSync(fd, head, 0, head.length, 0);
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  if (n < head.length || !head.equals(SQLITE_MAGIC)) return 'is not a SQLite database (its first 16 bytes are not "SQLite format 3")';
  return null;
}

/** Throws a ConfigError naming the key and file of the first database that is not usable. */
export function assertDatabaseFiles(dbs: readonly DbConfig[]): void {
  for (const db of dbs) {
    const problem = databaseFileProblem(db.path);
    if (problem) throw new ConfigError(`${db.keyPath}.path: database ${db.path} ${problem}`);
  }
}

/** Throws a ConfigError naming the key of the first directory entry whose `dir` is not a directory. */
export function assertEntryDirs(dirs: readonly DirConfig[]): void {
  for (const d of dirs) {
    let st;
    try {
      st = statSync(d.dir);
    } catch (err) {
      throw new ConfigError(`${d.keyPath}.dir: ${d.dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!st.isDirectory()) throw new ConfigError(`${d.keyPath}.dir: ${d.dir} is not a directory`);
  }
}
