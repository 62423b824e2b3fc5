// Merges a contiguous run of LTX files into one: the newest copy of each page wins, and
// pages beyond the final commit size (a VACUUM shrink) are dropped. Pure: no I/O.
//
// The inputs' pages are merged as they decode (each file is sorted by page number), and the output
// comes out in batches: memory holds the inputs and one page per input, never the decoded pages of
// the whole run or a second copy of the output.
import { LtxFile, type LtxPage } from './decoder.js';
import { LtxEncoder } from './encoder.js';
import { LtxFormatError, ltxHeader, type LtxHeader } from './format.js';

const OUTPUT_BATCH = 512;

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

/** The compacted file as batches of bytes. Every input is decoded (and so verified) to its end. */
export async function* compactLtxChunks(inputs: readonly Buffer[]): AsyncGenerator<Buffer[]> {
  const header = compactedHeader(inputs);
  const enc = await LtxEncoder.create(header);
  let batch: Buffer[] = [enc.begin()];
  const merge = new PageMerge(inputs.map((b) => LtxFile.open(b).pages()));
  await merge.start();
  for (let page = await merge.next(); page; page = await merge.next()) {
    if (page.pgno > header.commit) continue;
    batch.push(...enc.encodePage(page.pgno, page.data));
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

/**
 * A k-way merge of page streams sorted by page number. For a page in several streams, the one from
 * the latest stream (the newest file) is returned and the others are skipped. A min-heap keyed on
 * (page number, newest stream first) keeps it O(pages x log files) for runs of thousands of files.
 */
class PageMerge {
  private readonly heads: Array<LtxPage | null>;
  private heap: number[] = [];

  constructor(private readonly streams: Array<AsyncIterator<LtxPage, unknown>>) {
    this.heads = streams.map(() => null);
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.streams.length; i++) await this.advance(i);
  }

  async next(): Promise<LtxPage | null> {
    const top = this.pop();
    if (top === undefined) return null;
    const page = this.heads[top]!;
    await this.advance(top);
    // Older copies of the same page.
    while (this.heap.length > 0 && this.heads[this.heap[0]!]!.pgno === page.pgno) await this.advance(this.pop()!);
    return page;
  }

  private async advance(i: number): Promise<void> {
    const r = await this.streams[i]!.next();
    this.heads[i] = r.done ? null : r.value;
    if (!r.done) this.push(i);
  }

  private before(a: number, b: number): boolean {
    const pa = this.heads[a]!.pgno;
    const pb = this.heads[b]!.pgno;
    return pa < pb || (pa === pb && a > b);
  }

  private push(i: number): void {
    const h = this.heap;
    h.push(i);
    for (let c = h.length - 1; c > 0; ) {
      const p = (c - 1) >> 1;
      if (!this.before(h[c]!, h[p]!)) break;
      [h[c], h[p]] = [h[p]!, h[c]!];
      c = p;
    }
  }

  private pop(): number | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let p = 0; ; ) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === p) break;
        [h[m], h[p]] = [h[p]!, h[m]!];
        p = m;
      }
    }
    return top;
  }
}
