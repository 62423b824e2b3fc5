// Merges a contiguous run of LTX files into one: the newest copy of each page wins, and
// pages beyond the final commit size (a VACUUM shrink) are dropped. Pure: no I/O.
import { LtxFile } from './decoder.js';
import { LtxEncoder } from './encoder.js';
import { LtxFormatError, ltxHeader } from './format.js';

export async function compactLtx(inputs: Buffer[]): Promise<Buffer> {
  if (inputs.length === 0) throw new LtxFormatError('nothing to compact');
  const files = inputs.map((b) => LtxFile.open(b));
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1]!.header;
    const cur = files[i]!.header;
    if (cur.pageSize !== prev.pageSize) throw new LtxFormatError(`page size changes from ${prev.pageSize} to ${cur.pageSize}`);
    if (cur.minTXID !== prev.maxTXID + 1) {
      throw new LtxFormatError(`not contiguous: ${prev.minTXID}-${prev.maxTXID} then ${cur.minTXID}-${cur.maxTXID}`);
    }
  }
  const first = files[0]!.header;
  const last = files[files.length - 1]!.header;

  const pages = new Map<number, Buffer>();
  for (const f of files) {
    for await (const p of f.pages()) pages.set(p.pgno, p.data);
  }

  const enc = await LtxEncoder.create(
    ltxHeader({ pageSize: first.pageSize, commit: last.commit, minTXID: first.minTXID, maxTXID: last.maxTXID, timestamp: last.timestamp }),
  );
  const out: Buffer[] = [enc.begin()];
  const pgnos = [...pages.keys()].filter((p) => p <= last.commit).sort((a, b) => a - b);
  for (const pgno of pgnos) out.push(...enc.encodePage(pgno, pages.get(pgno)!));
  out.push(enc.finish());
  return Buffer.concat(out);
}
