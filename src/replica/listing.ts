// A replica's whole listing, level by level: the input to restore planning and retention.
import { ALL_LEVELS, type LtxFileInfo, type ReplicaClient } from './client.js';

export async function listReplica(client: ReplicaClient): Promise<Map<number, LtxFileInfo[]>> {
  const listing = new Map<number, LtxFileInfo[]>();
  for (const level of ALL_LEVELS) listing.set(level, await client.listLtxFiles(level));
  return listing;
}
