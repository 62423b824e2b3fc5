// Where a follower stands, kept beside its database in `.<db>-walship-follow/position.json` so that a
// follower started again (-if-db-not-exists) resumes instead of restoring from scratch. Written to a
// temporary name, fsynced, renamed, and the directory fsynced.
//
// Before a file is applied, `applying` names it; after, `txid` is its max TXID and `applying` is
// gone. A follower that died in between finds its database at `txid` or at `applying.maxTXID` (the
// journal decides which), and its next step must reach at least `applying.maxTXID`.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { LtxFileId } from '../replica/layout.js';
import { fsyncDir } from '../util/fs.js';

export interface FollowPosition {
  /** The replica followed (its location, which never holds a secret). */
  replica: string;
  /** TXID the database holds for certain. */
  txid: number;
  /** A file being applied when this was written. */
  applying?: LtxFileId;
  updatedAt: string;
}

export function followStateDir(dbPath: string): string {
  return path.join(path.dirname(path.resolve(dbPath)), `.${path.basename(dbPath)}-walship-follow`);
}

export function positionPath(dbPath: string): string {
  return path.join(followStateDir(dbPath), 'position.json');
}

export async function readPosition(dbPath: string): Promise<FollowPosition | null> {
  const file = positionPath(dbPath);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`follower position ${file} is not JSON`);
  }
  const p = v as Partial<FollowPosition>;
  if (typeof p.replica !== 'string' || !Number.isSafeInteger(p.txid) || (p.txid ?? 0) < 1) throw new Error(`follower position ${file} is malformed`);
  return p as FollowPosition;
}

export async function writePosition(dbPath: string, pos: Omit<FollowPosition, 'updatedAt'>): Promise<void> {
  const dir = followStateDir(dbPath);
  await fsp.mkdir(dir, { recursive: true });
  const file = positionPath(dbPath);
  const tmp = `${file}.tmp`;
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writeFile(`${JSON.stringify({ ...pos, updatedAt: new Date().toISOString() })}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDir(dir);
}
