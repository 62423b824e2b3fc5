// Level-0 files that wait for a replica go up as one: the replica receives at most one level-0
// file per sync, whatever the capture cadence (capture-schedule.ts). The merged file covers the
// run's TXID range, holds the newest copy of each page, and keeps the newest input's WAL position
// (mergedL0Header). Inputs are small (a capture window's commits); a run stops at MERGE_MAX_BYTES.
import { compactLtxChunks, mergedL0Header } from '../ltx/compactor.js';
import type { LtxFileInfo } from '../replica/client.js';
import { ltxFileName } from '../replica/layout.js';
import type { Staging } from './staging.js';

// Small: merging is for many small files (one per capture window); a bulk load's large files go up as
// they are, and a merge holds its inputs and their pages in memory.
export const MERGE_MAX_BYTES = 8 * 1024 * 1024;

/**
 * The files of `pending` (sorted, staged level 0) from index `at` that go up together: contiguous
 * TXIDs, at most `maxBytes` past the first, and captured within `spanMs` of the first (the sync
 * interval). The span keeps point-in-time restore as fine as the sync interval even when a backlog
 * drains after an outage: each merged file still stands for one interval's commits, with its own
 * timestamp. With a span of 0 nothing merges. Pure.
 */
export function l0Run(pending: readonly LtxFileInfo[], at: number, spanMs: number, maxBytes = MERGE_MAX_BYTES): LtxFileInfo[] {
  const run: LtxFileInfo[] = [pending[at]!];
  const first = run[0]!;
  let bytes = first.size;
  for (let i = at + 1; i < pending.length; i++) {
    const f = pending[i]!;
    if (f.minTXID !== run[run.length - 1]!.maxTXID + 1 || bytes + f.size > maxBytes) break;
    if (f.createdAt.getTime() - first.createdAt.getTime() >= spanMs) break;
    run.push(f);
    bytes += f.size;
  }
  return run;
}

/** Writes the merge of `run` to staging's scratch space. The caller uploads, then removes it. */
export async function mergeL0Run(staging: Staging, run: readonly LtxFileInfo[]): Promise<{ info: LtxFileInfo; path: string }> {
  const inputs = await Promise.all(run.map((f) => staging.read(0, f.minTXID, f.maxTXID)));
  const header = mergedL0Header(inputs);
  const first = run[0]!;
  const last = run[run.length - 1]!;
  const out = await staging.writeScratch(ltxFileName(first.minTXID, last.maxTXID), compactLtxChunks(inputs, header));
  return { path: out.path, info: { level: 0, minTXID: first.minTXID, maxTXID: last.maxTXID, size: out.size, createdAt: last.createdAt } };
}
