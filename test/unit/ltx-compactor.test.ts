import { describe, expect, it } from 'vitest';
import { compactLtx } from '../../src/ltx/compactor.js';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { HEADER_FLAG_NO_CHECKSUM, LtxFormatError, type LtxHeader } from '../../src/ltx/format.js';

const PAGE = 512;

/** Page content that names the page and the TXID that wrote it. */
function content(pgno: number, txid: number): Buffer {
  const b = Buffer.alloc(PAGE, (pgno * 16 + txid) & 0xff);
  b.writeUInt32BE(pgno, 0);
  b.writeUInt32BE(txid, 4);
  return b;
}

interface Spec {
  minTXID: number;
  maxTXID: number;
  commit: number;
  pages: number[];
  timestamp?: number;
  pageSize?: number;
  walOffset?: number;
  nodeID?: bigint;
}

async function file(s: Spec): Promise<Buffer> {
  const pageSize = s.pageSize ?? PAGE;
  const h: LtxHeader = {
    flags: HEADER_FLAG_NO_CHECKSUM,
    pageSize,
    commit: s.commit,
    minTXID: s.minTXID,
    maxTXID: s.maxTXID,
    timestamp: s.timestamp ?? 1000 * s.maxTXID,
    preApplyChecksum: 0n,
    walOffset: s.walOffset ?? 0,
    walSize: s.walOffset ? 4096 : 0,
    walSalt1: s.walOffset ? 7 : 0,
    walSalt2: s.walOffset ? 8 : 0,
    nodeID: s.nodeID ?? 0n,
  };
  const enc = await LtxEncoder.create(h);
  const parts = [enc.begin()];
  for (const pgno of s.pages) {
    const c = content(pgno, s.maxTXID);
    parts.push(...enc.encodePage(pgno, pageSize === PAGE ? c : Buffer.concat([c, Buffer.alloc(pageSize - PAGE)])));
  }
  parts.push(enc.finish());
  return Buffer.concat(parts);
}

async function read(buf: Buffer): Promise<{ header: LtxHeader; pages: Map<number, number> }> {
  const f = LtxFile.open(buf);
  const pages = new Map<number, number>();
  for await (const p of f.pages()) {
    expect(p.data.readUInt32BE(0)).toBe(p.pgno);
    expect(p.data.equals(content(p.pgno, p.data.readUInt32BE(4)))).toBe(true);
    pages.set(p.pgno, p.data.readUInt32BE(4)); // pgno -> TXID that wrote it
  }
  return { header: f.header, pages };
}

describe('compactLtx', () => {
  it('keeps the newest copy of each page, in page order', async () => {
    const out = await compactLtx([
      await file({ minTXID: 2, maxTXID: 2, commit: 10, pages: [1, 3, 5] }),
      await file({ minTXID: 3, maxTXID: 4, commit: 10, pages: [3, 7] }),
      await file({ minTXID: 5, maxTXID: 5, commit: 10, pages: [1, 10] }),
    ]);
    const { pages } = await read(out);
    expect([...pages]).toEqual([
      [1, 5],
      [3, 4],
      [5, 2],
      [7, 4],
      [10, 5],
    ]);
  });

  it('takes min TXID from the first input and max TXID, commit and timestamp from the last', async () => {
    const out = await compactLtx([
      await file({ minTXID: 11, maxTXID: 12, commit: 4, pages: [2], timestamp: 111, walOffset: 32, nodeID: 5n }),
      await file({ minTXID: 13, maxTXID: 20, commit: 9, pages: [9], timestamp: 222, walOffset: 64, nodeID: 5n }),
    ]);
    expect((await read(out)).header).toEqual({
      flags: HEADER_FLAG_NO_CHECKSUM,
      pageSize: PAGE,
      commit: 9,
      minTXID: 11,
      maxTXID: 20,
      timestamp: 222,
      preApplyChecksum: 0n,
      walOffset: 0,
      walSize: 0,
      walSalt1: 0,
      walSalt2: 0,
      nodeID: 0n,
    });
  });

  it('drops pages above the final commit size (a VACUUM shrink)', async () => {
    const out = await compactLtx([
      await file({ minTXID: 2, maxTXID: 2, commit: 8, pages: [2, 6, 8] }),
      await file({ minTXID: 3, maxTXID: 3, commit: 5, pages: [4] }),
    ]);
    const { header, pages } = await read(out);
    expect(header.commit).toBe(5);
    expect([...pages.keys()]).toEqual([2, 4]);
  });

  it('keeps a page that was dropped by a shrink and written again after regrowth', async () => {
    const out = await compactLtx([
      await file({ minTXID: 2, maxTXID: 2, commit: 8, pages: [8] }),
      await file({ minTXID: 3, maxTXID: 3, commit: 4, pages: [1] }),
      await file({ minTXID: 4, maxTXID: 4, commit: 8, pages: [8] }),
    ]);
    expect([...(await read(out)).pages]).toEqual([
      [1, 3],
      [8, 4],
    ]);
  });

  it('compacting a snapshot with later files gives a complete snapshot', async () => {
    const out = await compactLtx([
      await file({ minTXID: 1, maxTXID: 3, commit: 3, pages: [1, 2, 3] }),
      await file({ minTXID: 4, maxTXID: 4, commit: 5, pages: [2, 4, 5] }),
    ]);
    const { header, pages } = await read(out);
    expect(header.minTXID).toBe(1);
    expect(header.maxTXID).toBe(4);
    expect([...pages]).toEqual([
      [1, 3],
      [2, 4],
      [3, 3],
      [4, 4],
      [5, 4],
    ]);
  });

  it('a single input comes out with the same pages', async () => {
    const out = await compactLtx([await file({ minTXID: 6, maxTXID: 9, commit: 12, pages: [3, 12] })]);
    const { header, pages } = await read(out);
    expect([header.minTXID, header.maxTXID, header.commit]).toEqual([6, 9, 12]);
    expect([...pages]).toEqual([
      [3, 9],
      [12, 9],
    ]);
  });

  it('refuses a gap between inputs, naming both ranges', async () => {
    const a = await file({ minTXID: 2, maxTXID: 3, commit: 4, pages: [1] });
    const b = await file({ minTXID: 5, maxTXID: 5, commit: 4, pages: [1] });
    await expect(compactLtx([a, b])).rejects.toThrow(LtxFormatError);
    await expect(compactLtx([a, b])).rejects.toThrow('not contiguous: 2-3 then 5-5');
  });

  it('refuses inputs out of order', async () => {
    const a = await file({ minTXID: 2, maxTXID: 3, commit: 4, pages: [1] });
    const b = await file({ minTXID: 4, maxTXID: 4, commit: 4, pages: [1] });
    await expect(compactLtx([b, a])).rejects.toThrow('not contiguous: 4-4 then 2-3');
  });

  it('refuses inputs with different page sizes', async () => {
    const a = await file({ minTXID: 2, maxTXID: 2, commit: 4, pages: [1] });
    const b = await file({ minTXID: 3, maxTXID: 3, commit: 4, pages: [1], pageSize: 1024 });
    await expect(compactLtx([a, b])).rejects.toThrow('page size changes from 512 to 1024');
  });

  it('refuses no inputs', async () => {
    await expect(compactLtx([])).rejects.toThrow('nothing to compact');
  });

  it('refuses a corrupt input instead of compacting it', async () => {
    const a = await file({ minTXID: 2, maxTXID: 2, commit: 4, pages: [1] });
    const b = Buffer.from(await file({ minTXID: 3, maxTXID: 3, commit: 4, pages: [2] }));
    b[b.length - 1]! ^= 1;
    await expect(compactLtx([a, b])).rejects.toThrow('file checksum mismatch');
  });
});

describe('compactLtx over many files', () => {
  it('keeps the newest copy of every page across 200 files with overlapping pages, dropping pages past the final size', async () => {
    let x = 12345;
    const rand = (n: number): number => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x % n;
    };
    const specs: Spec[] = [];
    const expected = new Map<number, number>();
    // From TXID 2: a file starting at TXID 1 is a snapshot, which must hold every page.
    for (let txid = 2; txid <= 201; txid++) {
      const set = new Set<number>();
      for (let k = 0, n = 1 + rand(12); k < n; k++) set.add(1 + rand(300));
      const commit = txid === 201 ? 250 : 300;
      const pages = [...set].filter((p) => p <= commit).sort((a, b) => a - b);
      specs.push({ minTXID: txid, maxTXID: txid, commit, pages });
      for (const p of pages) expected.set(p, txid);
    }
    for (const p of [...expected.keys()]) if (p > 250) expected.delete(p);
    const out = await read(await compactLtx(await Promise.all(specs.map(file))));
    expect(out.header.minTXID).toBe(2);
    expect(out.header.maxTXID).toBe(201);
    expect(out.header.commit).toBe(250);
    expect([...out.pages.entries()].sort((a, b) => a[0] - b[0])).toEqual([...expected.entries()].sort((a, b) => a[0] - b[0]));
  });
});
