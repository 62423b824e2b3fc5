// Promotion: `walship replicate` started on a database a follower (restore -f) left, with the replica
// it followed. The replicator continues that replica's TXID chain where the follower stopped:
//  1. the follower's position must be settled (no file half applied) and the replica must end
//     exactly there (a follower behind would drop the old primary's last shipped commits);
//  2. the replica is claimed (fence record, next generation) before anything is uploaded, and the
//     replica is listed again: it must not have moved meanwhile;
//  3. the database goes to WAL mode, and capture adopts the follower's position with the file's
//     checksum, so the first capture holds only what the application writes next: no full capture,
//     no snapshot;
//  4. the follower's state directory goes: from now on staging says where this database stands.
// A database no longer as the follower left it (already in WAL mode: an earlier promotion that
// stopped halfway) is still claimed, and its first capture holds every page, at the next TXID.
import Database from 'better-sqlite3';
import { promises as fsp } from 'node:fs';
import type { Logger } from 'pino';
import { followStateDir, positionPath, readPosition } from '../follow/position.js';
import type { LtxFileInfo } from '../replica/client.js';
import { LEVELS, SNAPSHOT_LEVEL } from '../replica/layout.js';
import { listReplica } from '../replica/listing.js';
import { checksumDatabaseFile } from '../sqlite/db-file-checksum.js';
import type { DatabaseCapture } from './db-capture.js';
import type { ReplicaFence } from './replica-fence.js';

export class PromotionError extends Error {
  override name = 'PromotionError';
}

export interface PromotionRequest {
  dbPath: string;
  /** The database's replicas with their fences. */
  fences: Array<{ name: string; fence: ReplicaFence }>;
  capture: DatabaseCapture;
  leaseMs: number | null;
  busyTimeoutMs: number;
  log: Logger;
}

export interface Promotion {
  replica: string;
  txid: number;
  /** The replica's newest snapshot, so the snapshot schedule goes on from it. */
  snapshot: LtxFileInfo | null;
}

/** Promotes the database if a follower left it; null when it is no follower's. */
export async function promoteFollower(req: PromotionRequest): Promise<Promotion | null> {
  const { dbPath, log } = req;
  const pos = await readPosition(dbPath);
  if (!pos) return null;
  const target = req.fences.find((f) => f.fence.client.location === pos.replica);
  if (!target) {
    throw new PromotionError(`${dbPath} is a follower of ${pos.replica} (${positionPath(dbPath)}), which is not among its replicas here (${req.fences.map((f) => f.fence.client.location).join(', ')}); promote it with the replica it followed`);
  }
  if (pos.applying) {
    throw new PromotionError(`the follower of ${dbPath} stopped while applying a file (${positionPath(dbPath)}); run restore -f -if-db-not-exists on it once to settle, stop it, then promote`);
  }
  const { fence } = target;
  const where = fence.client.location;
  await expectReplicaAt(fence, pos.txid);

  const inRollbackMode = (await journalMode(dbPath, req.busyTimeoutMs)) === 'delete';
  // A promotion is about to take the replica from its owner: not being the owner is expected here.
  const { decision } = await fence.check(false);
  if (decision.kind !== 'owner') await fence.claim(pos.txid, req.leaseMs);
  // A replicator that read the fence just before the claim may have finished one more upload.
  const snapshot = await expectReplicaAt(fence, pos.txid);

  if (inRollbackMode) {
    const { pageSize, pages } = switchToWal(dbPath, req.busyTimeoutMs);
    const fh = await fsp.open(dbPath, 'r');
    try {
      const { checksum } = await checksumDatabaseFile(fh, dbPath);
      req.capture.adopt({ txid: pos.txid, walOffset: 0, salt1: 0, salt2: 0, commit: pages, pageSize }, checksum);
    } finally {
      await fh.close();
    }
  } else {
    log.warn({ db: dbPath, replica: target.name, event: 'promotion_full_capture' }, 'the database is no longer as the follower left it (WAL mode); its first capture holds every page');
  }
  await fsp.rm(followStateDir(dbPath), { recursive: true, force: true });
  log.info({ db: dbPath, replica: target.name, event: 'promoted', txid: pos.txid, location: where }, `promoted: continuing ${where} from TXID ${pos.txid}`);
  return { replica: target.name, txid: pos.txid, snapshot };
}

/** Lists the replica: it must end at `txid`. Returns its newest snapshot. */
async function expectReplicaAt(fence: ReplicaFence, txid: number): Promise<LtxFileInfo | null> {
  const listing = await listReplica(fence.client);
  const reach = Math.max(0, ...LEVELS.flatMap((l) => (listing.get(l) ?? []).map((f) => f.maxTXID)));
  const where = fence.client.location;
  if (reach > txid) {
    throw new PromotionError(`replica ${where} holds TXID ${reach}, beyond this follower's ${txid}: let restore -f -if-db-not-exists catch up first, then promote (promoting now would drop the commits after ${txid})`);
  }
  if (reach < txid) throw new PromotionError(`replica ${where} ends at TXID ${reach}, before this follower's ${txid}: it holds another history`);
  const snaps = listing.get(SNAPSHOT_LEVEL) ?? [];
  return snaps[snaps.length - 1] ?? null;
}

async function journalMode(dbPath: string, busyTimeoutMs: number): Promise<string> {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // A hot journal a follower left is rolled back by this first read.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return String(db.pragma('journal_mode', { simple: true }));
  } finally {
    db.close();
  }
}

function switchToWal(dbPath: string, busyTimeoutMs: number): { pageSize: number; pages: number } {
  const db = new Database(dbPath, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new PromotionError(`cannot put ${dbPath} into WAL mode (SQLite answered ${String(mode)})`);
    return { pageSize: db.pragma('page_size', { simple: true }) as number, pages: db.pragma('page_count', { simple: true }) as number };
  } finally {
    db.close();
  }
}
