// Two replica settings that would write the same files: two databases onto one replica, a database
// onto one location twice, or a replica inside what walship or the application writes locally.
// Restore would then hand back another database's data, so the config is refused.
import path from 'node:path';
import { stagingDirOf } from './staging-path.js';
import type { DbConfig, DirConfig, ReplicaConfig } from './types.js';

/**
 * A string equal for two replicas exactly when they name the same storage location. A new
 * replica type adds its case here (bucket and prefix for object storage, say).
 */
export function replicaIdentity(r: ReplicaConfig): string {
  switch (r.type) {
    case 'file':
      return `file:${trimSlashes(path.resolve(r.path))}`;
    case 'sftp': {
      const s = r.sftp!;
      const p = trimSlashes(path.posix.normalize(r.path));
      // An absolute path is the same directory whoever logs in; a relative one is under a home.
      const who = p.startsWith('/') ? '' : `${s.user}@`;
      return `sftp:${who}${s.host.toLowerCase()}:${s.port}:${p}`;
    }
    case 's3': {
      const s = r.s3!;
      // The same bucket and prefix on the same endpoint (AWS itself when none is set).
      return `s3:${(s.endpoint ?? 'aws').toLowerCase()}:${s.bucket}:${trimSlashes(path.posix.normalize(r.path))}`;
    }
    default: {
      const unknown: never = r.type;
      throw new Error(`replicaIdentity: no identity for replica type ${String(unknown)}`);
    }
  }
}

export interface Overlap {
  /** The key the error is reported at. */
  key: string;
  message: string;
}

/** The first overlap in the list of databases, or null. */
export function findOverlap(dbs: readonly DbConfig[]): Overlap | null {
  const owners = new Map<string, { db: DbConfig; replica: ReplicaConfig }>();
  const local = new LocalPlaces(dbs);
  for (const db of dbs) {
    for (const r of db.replicas) {
      const id = replicaIdentity(r);
      const first = owners.get(id);
      if (first) {
        const what = first.db === db ? `database ${db.path} twice` : `databases ${first.db.path} (${first.replica.keyPath}) and ${db.path}`;
        return { key: r.keyPath, message: `same replica location as ${first.replica.keyPath}: it would hold ${what}; give each its own path` };
      }
      owners.set(id, { db, replica: r });
      if (r.type === 'file') {
        const conflict = local.conflict(path.resolve(r.path));
        if (conflict) return { key: r.keyPath, message: conflict };
      }
    }
  }
  return null;
}

/**
 * Overlaps a directory entry brings. Its databases go to `<replica root>/RELPATH`, one location per
 * relative path, so two of them never meet as long as each entry's replica root is its own: not
 * another replica's location, not inside one, not holding one. A file replica root must also stay
 * out of every scanned directory (the replica's files would be scanned, and `<dir>/RELPATH` is the
 * database itself) and clear of the configured databases. Checked when the config loads; the
 * databases found later then need only a check that no other entry already replicates them.
 */
export function findDirOverlap(dbs: readonly DbConfig[], dirs: readonly DirConfig[]): Overlap | null {
  const local = new LocalPlaces(dbs);
  const others: Array<{ id: string; keyPath: string; entry: DirConfig | null }> = [];
  for (const db of dbs) for (const r of db.replicas) others.push({ id: replicaIdentity(r), keyPath: r.keyPath, entry: null });
  for (const e of dirs) for (const r of e.template.replicas) others.push({ id: replicaIdentity(r), keyPath: r.keyPath, entry: e });
  for (const e of dirs) {
    for (const r of e.template.replicas) {
      const id = replicaIdentity(r);
      for (const o of others) {
        if (o.keyPath === r.keyPath) continue;
        if (within(o.id, id) || within(id, o.id)) {
          return { key: r.keyPath, message: `replica location overlaps ${o.keyPath}: the databases of ${e.keyPath} go to <location>/RELPATH, so each directory entry needs a replica location of its own, apart from every other replica` };
        }
      }
      if (r.type !== 'file') continue;
      const root = path.resolve(r.path);
      for (const d of dirs) {
        if (root === d.dir || isInside(root, d.dir)) return { key: r.keyPath, message: `${root} is inside ${d.dir}, the directory ${d.keyPath} scans for databases; use a directory outside it` };
      }
      const conflict = local.conflict(root);
      if (conflict) return { key: r.keyPath, message: conflict };
    }
  }
  return null;
}

/** Whether location `inner` is `outer` or below it (identities from replicaIdentity). */
function within(inner: string, outer: string): boolean {
  if (inner === outer) return true;
  // An empty S3 prefix is the whole bucket.
  if (outer.endsWith(':.')) outer = outer.slice(0, -1);
  const prefix = outer.endsWith('/') || outer.endsWith(':') ? outer : `${outer}/`;
  return inner.startsWith(prefix);
}

function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * What walship and the application write locally, indexed: each database file, its directory and
 * its staging directory. A lookup walks the replica directory's ancestors, so a config of 1,000
 * databases is checked in linear time (comparing every replica with every database took seconds).
 */
class LocalPlaces {
  private readonly files = new Map<string, DbConfig>();
  private readonly dirs = new Map<string, DbConfig>();
  private readonly stagings = new Map<string, DbConfig>();

  constructor(dbs: readonly DbConfig[]) {
    // The first database wins each place, as a scan in config order would find it.
    for (const db of [...dbs].reverse()) {
      this.files.set(db.path, db);
      this.dirs.set(path.dirname(db.path), db);
      this.stagings.set(stagingDirOf(db.path), db);
    }
  }

  /** Whether a file replica directory is a database file, its directory, or in its staging directory. */
  conflict(dir: string): string | null {
    const file = this.files.get(dir);
    if (file) return `${dir} is the database file of ${file.keyPath}`;
    const parent = this.dirs.get(dir);
    if (parent) return `${dir} is the directory of database ${parent.path} (${parent.keyPath}); use a directory of its own`;
    for (let p = dir; ; p = path.dirname(p)) {
      const db = this.stagings.get(p);
      if (db) return `${dir} is inside ${p}, the local staging directory of ${db.path} (${db.keyPath})`;
      if (path.dirname(p) === p) return null;
    }
  }
}

function trimSlashes(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}
