// WAL files written by a real SQLite (Python's sqlite3 module), read with src/sqlite/wal-format.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseWalHeader,
  verifyFrame,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  type RunningChecksum,
  type WalFrameHeader,
  type WalHeader,
} from '../../src/sqlite/wal-format.js';

// Writes a few transactions with autocheckpoint off and copies the -wal while the connection is
// still open (closing would checkpoint and delete it). Prints the page count after each commit.
const WRITER = String.raw`
import json, os, shutil, sqlite3, sys
d = sys.argv[1]
db = os.path.join(d, 'app.db')
c = sqlite3.connect(db, isolation_level=None)
c.execute('PRAGMA page_size=1024')
assert c.execute('PRAGMA journal_mode=WAL').fetchone()[0] == 'wal'
c.execute('PRAGMA wal_autocheckpoint=0')
counts = []
def commit(*stmts):
    c.execute('BEGIN')
    for s, args in stmts:
        c.execute(s, args)
    c.execute('COMMIT')
    counts.append(c.execute('PRAGMA page_count').fetchone()[0])
commit(('CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)', ()))
commit(*[('INSERT INTO t(v) VALUES (?)', (bytes([i]) * 300,)) for i in range(3)])
commit(('INSERT INTO t(v) VALUES (?)', (b'x' * 5000,)))  # overflow pages: several frames, one commit
commit(('UPDATE t SET v = ? WHERE id = 1', (b'y' * 200,)))
commit(('CREATE INDEX t_v ON t(v)', ()))
shutil.copyfile(db + '-wal', os.path.join(d, 'first.wal'))
frames_before = os.path.getsize(db + '-wal')

# A complete checkpoint, then one more write: SQLite restarts the WAL from its start with new
# salts, leaving the older frames after the new ones in the file.
busy, log, done = c.execute('PRAGMA wal_checkpoint(PASSIVE)').fetchone()
assert busy == 0 and log == done, (busy, log, done)
commit(('INSERT INTO t(v) VALUES (?)', (b'z' * 10,)))
shutil.copyfile(db + '-wal', os.path.join(d, 'restarted.wal'))
print(json.dumps({'counts': counts, 'checkpointed': log, 'sqlite': sqlite3.sqlite_version}))
`;

let dir: string;
let result: { counts: number[]; checkpointed: number; sqlite: string };
let first: Buffer;
let restarted: Buffer;

interface Walked {
  frames: WalFrameHeader[];
  /** Byte offset where the chain stopped. */
  end: number;
}

function walk(wal: Buffer, h: WalHeader): Walked {
  const size = WAL_FRAME_HEADER_SIZE + h.pageSize;
  const frames: WalFrameHeader[] = [];
  let ck: RunningChecksum = { s1: h.checksum1, s2: h.checksum2 };
  let off = WAL_HEADER_SIZE;
  for (; off + size <= wal.length; off += size) {
    const r = verifyFrame(h, wal.subarray(off, off + size), ck);
    if (!r) break;
    frames.push(r.frame);
    ck = r.checksum;
  }
  return { frames, end: off };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'walship-wal-'));
  result = JSON.parse(execFileSync('python3', ['-c', WRITER, dir], { encoding: 'utf8' })) as typeof result;
  first = readFileSync(path.join(dir, 'first.wal'));
  restarted = readFileSync(path.join(dir, 'restarted.wal'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a WAL written by SQLite', () => {
  it('has a header parseWalHeader accepts, in the host byte order, with the page size set', () => {
    const h = parseWalHeader(first);
    expect(h).not.toBeNull();
    expect(h!.pageSize).toBe(1024);
    expect(h!.bigEndianChecksum).toBe(endianness() === 'BE');
    expect(first.readUInt32BE(0)).toBe(endianness() === 'BE' ? 0x377f0683 : 0x377f0682);
    expect(h!.checkpointSeq).toBe(0);
  });

  it('consists of whole frames and every one of them verifies in a single chain', () => {
    const h = parseWalHeader(first)!;
    const frameSize = WAL_FRAME_HEADER_SIZE + 1024;
    expect((first.length - WAL_HEADER_SIZE) % frameSize).toBe(0);
    const { frames, end } = walk(first, h);
    expect(end).toBe(first.length);
    expect(frames.length).toBe((first.length - WAL_HEADER_SIZE) / frameSize);
    for (const f of frames) expect([f.salt1, f.salt2]).toEqual([h.salt1, h.salt2]);
  });

  it('has one commit frame per transaction, each carrying the database size in pages', () => {
    const { frames } = walk(first, parseWalHeader(first)!);
    const commits = frames.filter((f) => f.commit !== 0).map((f) => f.commit);
    expect(commits).toEqual(result.counts.slice(0, 5));
    expect(frames[frames.length - 1]!.commit).toBe(result.counts[4]);
    // The overflow insert spans several frames, only the last of which commits.
    expect(frames.length).toBeGreaterThan(commits.length + 3);
  });

  it('page numbers stay within the database size of the next commit', () => {
    const { frames } = walk(first, parseWalHeader(first)!);
    let pending: number[] = [];
    for (const f of frames) {
      pending.push(f.pgno);
      if (f.commit !== 0) {
        for (const p of pending) expect(p).toBeLessThanOrEqual(f.commit);
        pending = [];
      }
    }
    expect(pending).toEqual([]);
  });

  it('a single flipped byte in any frame breaks the chain at that frame', () => {
    const h = parseWalHeader(first)!;
    const frameSize = WAL_FRAME_HEADER_SIZE + 1024;
    const n = (first.length - WAL_HEADER_SIZE) / frameSize;
    for (const k of [0, Math.floor(n / 2), n - 1]) {
      for (const within of [0, 5, 9, 14, 17, 23, 24, 500, frameSize - 1]) {
        const bad = Buffer.from(first);
        bad[WAL_HEADER_SIZE + k * frameSize + within]! ^= 0x01;
        expect(walk(bad, h).frames.length, `frame ${k} byte ${within}`).toBe(k);
      }
    }
  });

  it('a flipped header byte makes the header invalid', () => {
    for (const at of [0, 8, 12, 16, 20, 24, 28]) {
      const bad = Buffer.from(first);
      bad[at + 3]! ^= 0x01;
      expect(parseWalHeader(bad), `byte ${at + 3}`).toBeNull();
    }
  });
});

describe('a WAL restarted by SQLite after a complete checkpoint', () => {
  it('has new salts (salt-1 incremented) and the next checkpoint sequence', () => {
    const before = parseWalHeader(first)!;
    const after = parseWalHeader(restarted)!;
    expect(after.checkpointSeq).toBe(before.checkpointSeq + 1);
    expect(after.salt1).toBe((before.salt1 + 1) >>> 0);
    expect(after.salt2).not.toBe(before.salt2);
  });

  it('chains only the new transaction; the stale frames after it are refused by salt', () => {
    const h = parseWalHeader(restarted)!;
    const { frames, end } = walk(restarted, h);
    expect(frames.length).toBeGreaterThan(0);
    expect(frames[frames.length - 1]!.commit).toBe(result.counts[5]);
    expect(frames.filter((f) => f.commit !== 0)).toHaveLength(1);
    // The file still holds the old frames beyond the chain.
    expect(restarted.length).toBe(first.length);
    expect(end).toBeLessThan(restarted.length);
    const stale = restarted.subarray(end, end + 24);
    const old = parseWalHeader(first)!;
    expect([stale.readUInt32BE(8), stale.readUInt32BE(12)]).toEqual([old.salt1, old.salt2]);
  });
});
