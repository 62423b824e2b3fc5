// Where LTX files live, on a replica and in local staging: the levels, the file names, the paths.
// Pure: nothing here touches a file. Two schemes, as Litestream v0.5 has them:
//   dir (file, SFTP, staging): <root>/ltx/<level>/<min %016x>-<max %016x>.ltx
//   s3 (object storage):       <root>/<level %04x>/<min %016x>-<max %016x>.ltx
import { posix } from 'node:path';
import { formatTXID } from '../ltx/format.js';

/**
 * The fence record (who owns the history, follow/fence.ts) lives at `<root>/walship-fence.json` in
 * both schemes: beside ltx/ on a directory, beside the level prefixes on S3, where Litestream never
 * looks.
 */
export const FENCE_FILE = 'walship-fence.json';

export function fenceFilePath(root: string): string {
  return posix.join(root, FENCE_FILE);
}

/** Identifies one LTX file: its level and the TXID range it covers. */
export interface LtxFileId {
  level: number;
  minTXID: number;
  maxTXID: number;
}

export const SNAPSHOT_LEVEL = 9;
export const COMPACTION_LEVELS = [1, 2, 3] as const;
/** Every level a replica holds, lowest first: the order shipping walks them. */
export const LEVELS = [0, 1, 2, 3, SNAPSHOT_LEVEL] as const;
/** The same levels, highest first: the order a restore plan prefers them. */
export const RESTORE_LEVELS = [SNAPSHOT_LEVEL, 3, 2, 1, 0] as const;
/** The highest compaction level: nothing above it but snapshots. */
export const TOP_COMPACTION_LEVEL = 3;

export type LayoutScheme = 'dir' | 's3';

const FILENAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

export function ltxFileName(minTXID: number, maxTXID: number): string {
  return `${formatTXID(minTXID)}-${formatTXID(maxTXID)}.ltx`;
}

/** Returns null for names that are not LTX files (temporary files, strays). */
export function parseLtxFileName(name: string): { minTXID: number; maxTXID: number } | null {
  const m = FILENAME_RE.exec(name);
  if (!m) return null;
  const minTXID = Number.parseInt(m[1]!, 16);
  const maxTXID = Number.parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(minTXID) || !Number.isSafeInteger(maxTXID)) return null;
  return { minTXID, maxTXID };
}

/** The level's directory (or key prefix) name under the root, in a scheme. */
export function levelName(level: number, scheme: LayoutScheme = 'dir'): string {
  return scheme === 's3' ? level.toString(16).padStart(4, '0') : `ltx/${level}`;
}

// Level directories are asked for on every file (several times per upload at sync-interval 0s),
// and path.join's normalising showed in the profile: each is joined once. Bounded, for directory
// mode's databases coming and going.
const levelDirs = new Map<string, string>();
const LEVEL_DIRS_MAX = 10_000;

/** A level's directory (or key prefix, without a trailing slash) under `root`. */
export function levelDir(root: string, level: number, scheme: LayoutScheme = 'dir'): string {
  const key = `${scheme}:${level}:${root}`;
  let dir = levelDirs.get(key);
  if (dir === undefined) {
    if (levelDirs.size >= LEVEL_DIRS_MAX) levelDirs.clear();
    dir = posix.join(root, levelName(level, scheme));
    levelDirs.set(key, dir);
  }
  return dir;
}

/** A file's path (or key) under `root`. */
export function ltxFilePath(root: string, id: LtxFileId, scheme: LayoutScheme = 'dir'): string {
  // A level's directory never ends in a slash and a file name holds none, so this is the join.
  return `${levelDir(root, id.level, scheme)}/${ltxFileName(id.minTXID, id.maxTXID)}`;
}

/** A file's path relative to the replica root, for logs and errors: "ltx/0/...-....ltx". */
export function describeFile(id: LtxFileId, scheme: LayoutScheme = 'dir'): string {
  return `${levelName(id.level, scheme)}/${ltxFileName(id.minTXID, id.maxTXID)}`;
}

/**
 * Temporary names of uploads in flight: `<final path>.<token>.tmp` beside the final file. The token
 * is random per upload; a sweep recognises leftovers by this pattern (and their age).
 */
export function tempFileName(finalPath: string, token: string): string {
  return `${finalPath}.${token}.tmp`;
}

const TEMP_RE = /^[0-9a-f]{16}-[0-9a-f]{16}\.ltx\.[0-9A-Za-z]+\.tmp$/;

/** True for a name tempFileName() makes (never for a final LTX name or anything else). */
export function isTempFileName(name: string): boolean {
  return TEMP_RE.test(name);
}
