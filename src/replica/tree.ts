// What databases a replica location holds below its root, for directory entries: a database at
// RELPATH under an entry's directory is replicated to `<root>/RELPATH`, so restoring an entry
// means finding every RELPATH whose directory holds the LTX levels. Only the replica can say: the
// local directory may be empty (restore is the init container's job).
//
// `findReplicaDatabases` is the walk (pure: it asks a ReplicaTree for subdirectory names); the
// trees are in tree-backends.ts. Listing is read-only, and nothing here touches an LTX file.
import { descendsInto, matchesEntry } from '../config/dir-entry.js';
import type { DirConfig } from '../config/types.js';
import { LEVELS, levelName, type LayoutScheme } from './layout.js';

export interface ReplicaTree {
  readonly scheme: LayoutScheme;
  /** Where the tree's root is, for errors; never holds a secret. */
  readonly location: string;
  /** Names of the subdirectories (or common key prefixes) at `rel` ("" is the root); none if missing. */
  subdirs(rel: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Deeper than this, the walk stops: a database is never that far down a real tree. */
const MAX_DEPTH = 64;
/** More directories than this and the walk gives up, rather than list a bucket forever. */
const MAX_DIRS = 200_000;

/** Whether a directory with these subdirectories is a database's replica root. */
export function isDatabaseRoot(children: readonly string[], scheme: LayoutScheme): boolean {
  if (scheme === 'dir') return children.includes('ltx');
  const levels = new Set<string>(LEVELS.map((l) => levelName(l, 's3')));
  return children.some((c) => levels.has(c));
}

/**
 * The relative paths of the entry's databases that the replica holds, sorted: directories below the
 * root that hold LTX levels, whose relative path the entry would have replicated (its pattern on
 * the name; subdirectories only with `recursive`).
 */
export async function findReplicaDatabases(tree: ReplicaTree, entry: Pick<DirConfig, 'pattern' | 'recursive'>): Promise<string[]> {
  const found: string[] = [];
  let listed = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (++listed > MAX_DIRS) throw new Error(`${tree.location}: more than ${MAX_DIRS} directories; giving up the listing`);
    const children = await tree.subdirs(rel);
    if (rel !== '' && isDatabaseRoot(children, tree.scheme)) {
      if (matchesEntry(entry, rel)) found.push(rel);
      return;
    }
    if (rel !== '' && !descendsInto(entry, rel)) return;
    if (depth >= MAX_DEPTH) return;
    for (const c of children.sort()) await walk(rel === '' ? c : `${rel}/${c}`, depth + 1);
  };
  await walk('', 0);
  return found.sort();
}
