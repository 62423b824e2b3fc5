// Builds compacted files (levels 1-3) from staged files of the level below, so compaction never
// downloads from a replica. A level compacts only what arrived since its last file: idle means no work.
// Memory stays bounded: a run's inputs are cut at MAX_RUN_BYTES (the output streams to disk), and a
// single file larger than that is copied as it is (a one-file compaction holds exactly the same pages).
import { createReadStream } from 'node:fs';
import { compactedHeader, compactLtxChunks } from '../ltx/compactor.js';
import type { LtxFileInfo } from '../replica/client.js';
import type { Staging } from './staging.js';

const MAX_RUN_BYTES = 32 * 1024 * 1024;
/** Runs per call, so one call cannot go on indefinitely; the next interval continues. */
const MAX_RUNS_PER_CALL = 64;

/** Compacts what level-1 holds beyond `level`'s last file. Returns the files made. */
export async function compactStagedLevel(staging: Staging, level: number, maxRunBytes = MAX_RUN_BYTES): Promise<LtxFileInfo[]> {
  const made: LtxFileInfo[] = [];
  for (let i = 0; i < MAX_RUNS_PER_CALL; i++) {
    const f = await compactNextRun(staging, level, maxRunBytes);
    if (!f) break;
    made.push(f);
  }
  return made;
}

async function compactNextRun(staging: Staging, level: number, maxRunBytes: number): Promise<LtxFileInfo | null> {
  const existing = await staging.list(level);
  const done = existing.reduce((m, f) => Math.max(m, f.maxTXID), 0);
  const sources = (await staging.list(level - 1)).filter((f) => f.minTXID > done);
  if (sources.length === 0) return null;
  // A run is contiguous and, past its first file, stays under the size bound.
  const run: LtxFileInfo[] = [sources[0]!];
  let bytes = sources[0]!.size;
  for (const f of sources.slice(1)) {
    if (f.minTXID !== run[run.length - 1]!.maxTXID + 1 || bytes + f.size > maxRunBytes) break;
    run.push(f);
    bytes += f.size;
  }
  const first = run[0]!;
  const last = run[run.length - 1]!;
  if (run.length === 1) {
    const path = staging.filePath(first.level, first.minTXID, first.maxTXID);
    return staging.write(level, first.minTXID, first.maxTXID, copyChunks(path), first.createdAt.getTime());
  }
  // Two reads at a time: thousands at once would queue in libuv's thread pool ahead of capture's
  // own file operations, and stall it for the whole run.
  const inputs: Buffer[] = new Array<Buffer>(run.length);
  let nextInput = 0;
  const reader = async (): Promise<void> => {
    while (nextInput < run.length) {
      const i = nextInput++;
      const f = run[i]!;
      inputs[i] = await staging.read(f.level, f.minTXID, f.maxTXID);
    }
  };
  await Promise.all([reader(), reader()]);
  return staging.write(level, first.minTXID, last.maxTXID, compactLtxChunks(inputs), compactedHeader(inputs).timestamp);
}

async function* copyChunks(path: string): AsyncGenerator<Buffer[]> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) yield [chunk as Buffer];
}
