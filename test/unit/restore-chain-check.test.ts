// A file's header against the pages it holds and the chain it continues (hostile files with valid
// checksums: a commit size that grows the database without the pages, a snapshot with holes).
import { describe, expect, it } from 'vitest';
import { HEADER_FLAG_NO_CHECKSUM, lockPgno, type LtxHeader } from '../../src/ltx/format.js';
import { ChainCheck } from '../../src/restore/chain-check.js';

function hdr(minTXID: number, maxTXID: number, commit: number, pageSize = 4096): LtxHeader {
  return { flags: HEADER_FLAG_NO_CHECKSUM, pageSize, commit, minTXID, maxTXID, timestamp: 0, preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeID: 0n };
}

function feed(chain: ChainCheck, h: LtxHeader, pages: number[]): void {
  const c = chain.begin(h);
  for (const p of pages) c.page(p);
  c.finish();
  chain.applied(h);
}

describe('ChainCheck', () => {
  it('accepts a complete snapshot, then an incremental file that grows by the pages it holds', () => {
    const chain = new ChainCheck();
    feed(chain, hdr(1, 5, 3), [1, 2, 3]);
    expect(() => feed(chain, hdr(6, 6, 5), [1, 4, 5])).not.toThrow();
    // changes within the size, no growth: any subset
    expect(() => feed(chain, hdr(7, 7, 5), [2])).not.toThrow();
    // a shrink (VACUUM) holds nothing beyond its size
    expect(() => feed(chain, hdr(8, 8, 2), [1])).not.toThrow();
    expect(() => feed(chain, hdr(9, 9, 3), [3])).not.toThrow();
  });

  it('refuses an incremental file whose commit size claims pages it does not hold (the 8.8 TB sparse restore)', () => {
    const chain = new ChainCheck();
    feed(chain, hdr(1, 1, 3), [1, 2, 3]);
    expect(() => feed(chain, hdr(2, 2, 2147483647), [1, 3])).toThrow(/grows the database from 3 to 2147483647 pages but lacks page 4/);
  });

  it('refuses a growth with a hole in the middle', () => {
    const chain = new ChainCheck();
    feed(chain, hdr(1, 1, 2), [1, 2]);
    expect(() => feed(chain, hdr(2, 2, 6), [3, 4, 6])).toThrow(/lacks page 5/);
  });

  it('refuses a snapshot with a hole or cut short', () => {
    expect(() => feed(new ChainCheck(), hdr(1, 4, 3), [1, 3])).toThrow(/snapshot claims 3 pages but lacks page 2/);
    expect(() => feed(new ChainCheck(), hdr(1, 4, 3), [1, 2])).toThrow(/snapshot claims 3 pages but lacks page 3/);
  });

  it('skips the lock page when the database grows across it', () => {
    const lock = lockPgno(65536);
    const chain = new ChainCheck();
    const all = Array.from({ length: lock + 1 }, (_, i) => i + 1).filter((p) => p !== lock);
    expect(() => feed(chain, hdr(1, 1, lock + 1, 65536), all)).not.toThrow();
    expect(() => feed(new ChainCheck(), hdr(1, 1, lock + 1, 65536), all.slice(0, -1))).toThrow(new RegExp(`lacks page ${lock + 1}`));
  });

  it('continues from a given size (a follower resuming)', () => {
    const chain = ChainCheck.from(10);
    expect(() => feed(chain, hdr(20, 20, 11), [11])).not.toThrow();
    expect(() => feed(ChainCheck.from(10), hdr(20, 20, 12), [11])).toThrow(/lacks page 12/);
  });
});
