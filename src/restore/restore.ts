// The restore command's library half: pick the replica that reaches furthest, plan, apply.
import type { LtxFileInfo, ReplicaClient } from '../replica/client.js';
import { listReplica } from '../replica/listing.js';
import { applyPlan, RestoreError, type ApplyOptions, type IntegrityCheck } from './apply.js';
import { planRestore, restoredTxid, type LevelListing, type RestoreTarget } from './plan.js';
import { pathExists } from '../util/fs.js';

export interface NamedReplica {
  name: string;
  client: ReplicaClient;
}

export interface RestoreRequest {
  replicas: NamedReplica[];
  outputPath: string;
  target: RestoreTarget;
  integrity: IntegrityCheck;
  ifDbNotExists: boolean;
  ifReplicaExists: boolean;
  /** Plan only: return the plan, write nothing (`restore -dry-run`). */
  dryRun?: boolean;
  /** Files downloaded at once (`restore -parallelism`). */
  parallelism?: number;
  /** Passed to applyPlan with the chosen replica's name (a follower's database). */
  apply?: (replica: string) => ApplyOptions;
}

export type RestoreOutcome =
  | { kind: 'restored'; replica: string; txid: number; files: number }
  | { kind: 'planned'; replica: string; location: string; plan: LtxFileInfo[]; outputExists: boolean }
  | { kind: 'database-exists' }
  | { kind: 'replica-empty' };

function isEmpty(listing: LevelListing): boolean {
  for (const files of listing.values()) if (files.length > 0) return false;
  return true;
}

export async function restore(req: RestoreRequest): Promise<RestoreOutcome> {
  const outputExists = await pathExists(req.outputPath);
  if (outputExists) {
    if (req.ifDbNotExists) return { kind: 'database-exists' };
    if (!req.dryRun) throw new RestoreError(`output ${req.outputPath} already exists; refusing to overwrite it (remove it, or use -if-db-not-exists)`);
  }

  const candidates: Array<{ replica: NamedReplica; plan: LtxFileInfo[] }> = [];
  const failures: string[] = [];
  let anyFiles = false;
  for (const replica of req.replicas) {
    try {
      const listing = await listReplica(replica.client);
      if (isEmpty(listing)) continue;
      anyFiles = true;
      candidates.push({ replica, plan: planRestore(listing, req.target) });
    } catch (err) {
      failures.push(`${replica.name}: ${(err as Error).message}`);
    }
  }
  if (candidates.length === 0) {
    if (!anyFiles && failures.length === 0) {
      if (req.ifReplicaExists) return { kind: 'replica-empty' };
      throw new RestoreError(`no backup found in ${req.replicas.map((r) => r.client.location).join(', ')}`);
    }
    throw new RestoreError(`cannot restore: ${failures.join('; ')}`);
  }
  // The replica whose chain reaches the highest TXID wins.
  candidates.sort((a, b) => restoredTxid(b.plan) - restoredTxid(a.plan));
  const best = candidates[0]!;
  if (req.dryRun) return { kind: 'planned', replica: best.replica.name, location: best.replica.client.location, plan: best.plan, outputExists };
  const result = await applyPlan(best.replica.client, best.plan, req.outputPath, req.integrity, { parallelism: req.parallelism, ...req.apply?.(best.replica.name) });
  return { kind: 'restored', replica: best.replica.name, txid: result.txid, files: best.plan.length };
}

