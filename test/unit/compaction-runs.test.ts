// Staged compaction keeps memory bounded: runs are cut at a size, and a file bigger than that is
// copied whole. Either way the compacted level restores the same pages as level 0.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { ltxHeader } from '../../src/ltx/format.js';
import { compactStagedLevel } from '../../src/replication/compaction.js';
import { Staging } from '../../src/replication/staging.js';

async function* once(chunks: Buffer[]): AsyncGenerator<Buffer[]> {
  yield chunks;
}

/** TXID t rewrites pages 1..pages with bytes derived from t. */
async function stageL0(staging: Staging, txid: number, pages: number): Promise<void> {
  const enc = await LtxEncoder.create(ltxHeader({ pageSize: 4096, commit: 8, minTXID: txid, maxTXID: txid, timestamp: 1_700_000_000_000 + txid }));
  const parts = [enc.begin()];
  for (let p = 1; p <= pages; p++) parts.push(...enc.encodePage(p, Buffer.alloc(4096, (txid * 16 + p) % 256)));
  parts.push(enc.finish());
  await staging.write(0, txid, txid, once(parts), 1_700_000_000_000 + txid);
}

async function pagesOf(file: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for await (const p of LtxFile.open(readFileSync(file)).pages()) out.set(p.pgno, p.data[0]!);
  return out;
}

describe('staged compaction runs', () => {
  it('cuts runs at the size bound, copies an oversized file whole, and keeps the newest pages', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-compact-'));
    const staging = new Staging(path.join(dir, 'app.db'));
    // TXID 1 holds all 8 pages, 2 and 3 one page each.
    await stageL0(staging, 1, 8);
    await stageL0(staging, 2, 1);
    await stageL0(staging, 3, 1);
    const l0 = await staging.list(0);
    const bound = l0[1]!.size + l0[2]!.size; // smaller than TXID 1's file, large enough for 2+3
    const made = await compactStagedLevel(staging, 1, bound);
    expect(made.map((f) => [f.minTXID, f.maxTXID])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    // The oversized file was copied byte for byte.
    expect(readFileSync(staging.filePath(1, 1, 1)).equals(readFileSync(staging.filePath(0, 1, 1)))).toBe(true);
    // The run 2..3 holds page 1 as TXID 3 wrote it.
    expect((await pagesOf(staging.filePath(1, 2, 3))).get(1)).toBe((3 * 16 + 1) % 256);
    // Nothing left to do: a second call makes nothing.
    expect(await compactStagedLevel(staging, 1, bound)).toEqual([]);
  });
});
