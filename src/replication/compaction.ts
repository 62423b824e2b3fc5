// Builds compacted files (levels 1-3) from staged files of the level below, so compaction never
// downloads from a replica. A level compacts only what arrived since its last file: idle means no work.
import { compactLtx } from '../ltx/compactor.js';
import { peekLtxHeader } from '../ltx/decoder.js';
import type { LtxFileInfo } from '../replica/client.js';
import type { Staging } from './staging.js';

/** Compacts the newest contiguous run of level-1 files into `level`. Returns the new file, or null. */
export async function compactStagedLevel(staging: Staging, level: number): Promise<LtxFileInfo | null> {
  const existing = await staging.list(level);
  const done = existing.reduce((m, f) => Math.max(m, f.maxTXID), 0);
  const sources = (await staging.list(level - 1)).filter((f) => f.minTXID > done);
  if (sources.length === 0) return null;
  // Stop at the first gap: a run must be contiguous.
  const run: LtxFileInfo[] = [sources[0]!];
  for (const f of sources.slice(1)) {
    if (f.minTXID !== run[run.length - 1]!.maxTXID + 1) break;
    run.push(f);
  }
  const inputs = await Promise.all(run.map((f) => staging.read(f.level, f.minTXID, f.maxTXID)));
  const out = await compactLtx(inputs);
  const header = peekLtxHeader(out);
  const first = run[0]!;
  const last = run[run.length - 1]!;
  return staging.write(level, first.minTXID, last.maxTXID, single([out]), header.timestamp);
}

async function* single(chunks: Buffer[]): AsyncGenerator<Buffer[]> {
  yield chunks;
}
