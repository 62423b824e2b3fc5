// Merges a contiguous run of LTX files into one: the newest copy of each page wins, and
// pages beyond the final commit size (a VACUUM shrink) are dropped. Pure: no I/O.
//
// The inputs are decoded one after the other (a merge across thousands of small files, decoding
// side by side, measured far slower and stalled capture), and the output comes out in batches,
// each page released once encoded: never a second copy of the whole output.
import { LtxFile } from './decoder.js';
import { LtxEncoder } from './encoder.js';
import { LtxFormatError, ltxHeader, type LtxHeader } from './format.js';

const OUTPUT_BATCH = 512;
const YIELD_EVERY_PAGES = 256;

/** The header of the file that compacting `inputs` makes, after checking the run is contiguous. */
export function compactedHeader(inputs: readonly Buffer[]): LtxHeader {
  if (inputs.length === 0) throw new LtxFormatError('nothing to compact');
  const headers = inputs.map((b) => LtxFile.open(b).header);
  for (let i = 1; i < headers.length; i++) {
    const prev = headers[i - 1]!;
    const cur = headers[i]!;
    if (cur.pageSize !== prev.pageSize) throw new LtxFormatError(`page size changes from ${prev.pageSize} to ${cur.pageSize}`);
    if (cur.minTXID !== prev.maxTXID + 1) {
      throw new LtxFormatError(`not contiguous: ${prev.minTXID}-${prev.maxTXID} then ${cur.minTXID}-${cur.maxTXID}`);
    }
  }
  const first = headers[0]!;
  const last = headers[headers.length - 1]!;
  return ltxHeader({ pageSize: first.pageSize, commit: last.commit, minTXID: first.minTXID, maxTXID: last.maxTXID, timestamp: last.timestamp });
}

/**
 * The header of a level-0 file that merges `inputs`: as compactedHeader(), but it keeps the newest
 * input's WAL position (offset, size, salts), which is where a Litestream taking over the replica
 * continues from.
 */
export function mergedL0Header(inputs: readonly Buffer[]): LtxHeader {
  const last = LtxFile.open(inputs[inputs.length - 1]!).header;
  return { ...compactedHeader(inputs), walOffset: last.walOffset, walSize: last.walSize, walSalt1: last.walSalt1, walSalt2: last.walSalt2 };
}

/** The compacted file as batches of bytes. Every input is decoded (and so verified) to its end. */
export async function* compactLtxChunks(inputs: readonly Buffer[], header: LtxHeader = compactedHeader(inputs)): AsyncGenerator<Buffer[]> {
  const pages = new Map<number, Buffer>();
  let decoded = 0;
  for (const input of inputs) {
    for await (const p of LtxFile.open(input).pages()) {
      pages.set(p.pgno, p.data);
      // Decoding in memory only ever awaits settled promises, which would hold the event loop
      // (and capture with it) for the whole run; let it turn now and then.
      if (++decoded % YIELD_EVERY_PAGES === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const enc = await LtxEncoder.create(header);
  let batch: Buffer[] = [enc.begin()];
  const pgnos = [...pages.keys()].filter((p) => p <= header.commit).sort((a, b) => a - b);
  for (const pgno of pgnos) {
    batch.push(...enc.encodePage(pgno, pages.get(pgno)!));
    pages.delete(pgno);
    if (batch.length >= OUTPUT_BATCH) {
      yield batch;
      batch = [];
    }
  }
  batch.push(enc.finish());
  yield batch;
}

export async function compactLtx(inputs: readonly Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const batch of compactLtxChunks(inputs)) out.push(...batch);
  return Buffer.concat(out);
}
