// Directory entries (`dir:`, `pattern:`, `recursive:`): which files under the directory are its
// databases, and where each one's replicas live. Pure: paths in, decisions out; the scan and the
// watch that feed it are replication/dir-scan.ts and replication/dir-monitor.ts.
//
// As Litestream 0.5 does it: the pattern is matched against the file name alone; without
// `recursive` only the directory's own files count; a database at RELPATH under the directory is
// replicated to `<replica path>/RELPATH` (file, sftp and s3 alike).
import path from 'node:path';
import { compileGlob } from './glob.js';
import type { DbConfig, DirConfig, ReplicaConfig } from './types.js';

/** SQLite's own files beside a database: never databases themselves. */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'];

/** walship's staging directory beside a database (`.NAME-walship`): never scanned. */
export function isStagingDirName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('-walship') && name.length > '.-walship'.length;
}

export function isCompanionName(name: string): boolean {
  return COMPANION_SUFFIXES.some((s) => name.endsWith(s));
}

/** Whether a scan or watch goes into a subdirectory at `relDir` ("a" or "a/b"). */
export function descendsInto(entry: Pick<DirConfig, 'recursive'>, relDir: string): boolean {
  if (!entry.recursive) return false;
  return relDir.split('/').every((n) => n !== '' && n !== '.' && n !== '..' && !isStagingDirName(n));
}

/**
 * Whether the file at `rel` (relative to the entry's directory, "/"-separated) is one of the entry's
 * databases by name: in the directory itself (or below it, with `recursive`), its name matching the
 * pattern, and not one of SQLite's companion files.
 */
export function matchesEntry(entry: Pick<DirConfig, 'pattern' | 'recursive'>, rel: string): boolean {
  if (rel === '' || path.posix.isAbsolute(rel)) return false;
  const names = rel.split('/');
  // A name from a replica listing may be anything: "." and ".." never name a database.
  if (names.some((n) => n === '' || n === '.' || n === '..')) return false;
  const base = names.pop()!;
  if (names.length > 0 && !descendsInto(entry, names.join('/'))) return false;
  if (isCompanionName(base)) return false;
  return patternRe(entry.pattern)?.test(base) ?? false;
}

const compiled = new Map<string, RegExp | null>();

function patternRe(pattern: string): RegExp | null {
  let re = compiled.get(pattern);
  if (re === undefined) {
    const g = compileGlob(pattern);
    re = g.ok ? g.re : null;
    compiled.set(pattern, re);
  }
  return re;
}

/** The path of `file` relative to the entry's directory, "/"-separated; null if not under it. */
export function relativeToEntry(entry: Pick<DirConfig, 'dir'>, file: string): string | null {
  const rel = path.relative(entry.dir, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

/** A replica of the entry, moved to the database at `rel`: Litestream's layout. */
export function replicaForRelPath(r: ReplicaConfig, rel: string): ReplicaConfig {
  const p = r.type === 'file' ? path.join(r.path, ...rel.split('/')) : r.path === '' ? rel : path.posix.join(r.path, rel);
  return { ...r, path: p, keyPath: `${r.keyPath} (${rel})` };
}

/** The database config of the entry's database at `rel`. */
export function dbConfigFor(entry: DirConfig, rel: string): DbConfig {
  return {
    ...entry.template,
    path: path.join(entry.dir, ...rel.split('/')),
    replicas: entry.template.replicas.map((r) => replicaForRelPath(r, rel)),
    keyPath: `${entry.keyPath} (${rel})`,
  };
}
