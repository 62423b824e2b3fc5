// `walship reset DB`: drops a database's local staging (captured LTX files, positions, the clean-stop
// record), so the next `replicate` captures every page afresh and continues the replica's TXIDs
// from what the replica holds. Refuses while a replicator holds the database's lock.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../util/fs.js';
import { ReplicatorLock } from './replicator-lock.js';
import { Staging } from './staging.js';

export interface ResetResult {
  stagingDir: string;
  /** False when there was no staging directory: nothing to reset. */
  existed: boolean;
  /** Files (relative to the staging directory) removed, or that would be with dryRun. */
  files: string[];
}

/**
 * The lock's own file stays: it is held while the rest goes, and removing it would race a starting
 * replicator. So does the owner identity (replica-fence.ts): without it a promoted primary would be
 * fenced off its own replica.
 */
const KEEP = new Set(['replicator.lock', 'replicator.lock-journal', 'fence.json']);

export async function resetStaging(dbPath: string, opts: { dryRun: boolean }): Promise<ResetResult> {
  const stagingDir = new Staging(dbPath).dir;
  if (!(await isDir(stagingDir))) return { stagingDir, existed: false, files: [] };
  const entries = async (): Promise<string[]> => (await fsp.readdir(stagingDir)).filter((n) => !KEEP.has(n)).sort();
  const listAll = async (names: string[]): Promise<string[]> => (await Promise.all(names.map((n) => listFiles(stagingDir, n)))).flat();
  // A dry run writes nothing, not even the lock's holder record.
  if (opts.dryRun) return { stagingDir, existed: true, files: await listAll(await entries()) };
  const lock = await ReplicatorLock.acquire(stagingDir, dbPath);
  try {
    const names = await entries();
    const files = await listAll(names);
    for (const name of names) {
      try {
        await fsp.rm(path.join(stagingDir, name), { recursive: true, force: true });
      } catch (err) {
        throw new Error(`reset ${dbPath}: cannot remove ${path.join(stagingDir, name)}: ${(err as Error).message}`);
      }
    }
    await fsyncDir(stagingDir);
    return { stagingDir, existed: true, files };
  } finally {
    lock.release();
  }
}

async function listFiles(root: string, rel: string): Promise<string[]> {
  const full = path.join(root, rel);
  const st = await fsp.lstat(full);
  if (!st.isDirectory()) return [rel];
  const names = (await fsp.readdir(full)).sort();
  return (await Promise.all(names.map((n) => listFiles(root, path.join(rel, n))))).flat();
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fsp.stat(p)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
