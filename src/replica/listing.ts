// A replica's whole listing, level by level: the input to restore planning and retention.
import type { LtxFileInfo, ReplicaClient } from './client.js';
import { RESTORE_LEVELS } from './layout.js';

export async function listReplica(client: ReplicaClient): Promise<Map<number, LtxFileInfo[]>> {
  const listing = new Map<number, LtxFileInfo[]>();
  for (const level of RESTORE_LEVELS) listing.set(level, await client.listLtxFiles(level));
  return listing;
}
