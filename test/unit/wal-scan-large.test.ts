// scanWal over a WAL written by a real SQLite (Python's sqlite3 module), against a walk of the whole
// file frame by frame: a small scan keeps every page's bytes, a scan past the size it keeps pages
// for (16 MiB) still finds every commit and every page's newest frame, and after a RESTART
// checkpoint (old frames past the new ones) every hint gives the same frames, and a right one (the
// WAL index's mxFrame) a single read.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, promises as fsp, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { parseWalHeader, verifyFrame, WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, type RunningChecksum, type WalHeader } from '../../src/sqlite/wal-format.js';
import { scanWal } from '../../src/sqlite/wal-scanner.js';

// Transactions of random (incompressible) blobs with autocheckpoint off; the -wal is copied while
// the connection is open (closing would checkpoint it). argv: dir, transactions, bytes per transaction.
const WRITER = String.raw`
import os, shutil, sqlite3, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = os.path.join(d, 'app.db')
c = sqlite3.connect(db, isolation_level=None)
assert c.execute('PRAGMA journal_mode=WAL').fetchone()[0] == 'wal'
c.execute('PRAGMA wal_autocheckpoint=0')
c.execute('CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)')
for i in range(n):
    c.execute('BEGIN')
    for _ in range(size // 65536):
        c.execute('INSERT INTO t(v) VALUES (?)', (os.urandom(65536),))
    c.execute('UPDATE t SET v = ? WHERE id = 1', (os.urandom(100),))
    c.execute('COMMIT')
shutil.copyfile(db + '-wal', os.path.join(d, 'copy.wal'))
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'walship-wal-scan-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Reference {
  header: WalHeader;
  end: number;
  commit: number;
  commitFrames: number;
  /** Each page's newest committed frame: its offset and page bytes. */
  pages: Map<number, { walOffset: number; data: Buffer }>;
}

/** Every frame of the file in order, verified one by one: what a scan from the start must find. */
function walkWhole(wal: Buffer): Reference {
  const header = parseWalHeader(wal.subarray(0, WAL_HEADER_SIZE))!;
  const size = WAL_FRAME_HEADER_SIZE + header.pageSize;
  const ref: Reference = { header, end: WAL_HEADER_SIZE, commit: 0, commitFrames: 0, pages: new Map() };
  let pending = new Map<number, { walOffset: number; data: Buffer }>();
  let ck: RunningChecksum = { s1: header.checksum1, s2: header.checksum2 };
  for (let off = WAL_HEADER_SIZE; off + size <= wal.length; off += size) {
    const frame = wal.subarray(off, off + size);
    const r = verifyFrame(header, frame, ck);
    if (!r) break;
    ck = r.checksum;
    pending.set(r.frame.pgno, { walOffset: off, data: frame.subarray(WAL_FRAME_HEADER_SIZE) });
    if (r.frame.commit !== 0) {
      for (const [p, v] of pending) ref.pages.set(p, v);
      pending = new Map();
      ref.end = off + size;
      ref.commit = r.frame.commit;
      ref.commitFrames++;
    }
  }
  return ref;
}

async function scanCopy(name: string, transactions: number, bytes: number): Promise<{ ref: Reference; scan: Awaited<ReturnType<typeof scanWal>> }> {
  const d = path.join(dir, name);
  await fsp.mkdir(d);
  execFileSync('python3', ['-c', WRITER, d, String(transactions), String(bytes)]);
  const file = path.join(d, 'copy.wal');
  const ref = walkWhole(readFileSync(file));
  const fh = await fsp.open(file, 'r');
  try {
    const h = ref.header;
    return { ref, scan: await scanWal(fh, h, WAL_HEADER_SIZE, { s1: h.checksum1, s2: h.checksum2 }) };
  } finally {
    await fh.close();
  }
}

function expectSameFrames(ref: Reference, scan: Awaited<ReturnType<typeof scanWal>>): void {
  expect(scan.end).toBe(ref.end);
  expect(scan.commit).toBe(ref.commit);
  expect(scan.commitFrames).toBe(ref.commitFrames);
  expect([...scan.pages.keys()].sort((a, b) => a - b)).toEqual([...ref.pages.keys()].sort((a, b) => a - b));
  for (const [pgno, want] of ref.pages) expect(scan.pages.get(pgno)!.walOffset, `page ${pgno}`).toBe(want.walOffset);
}

test('a scan under the size it keeps pages for holds the newest committed bytes of every page', async () => {
  const { ref, scan } = await scanCopy('small', 3, 1 << 20);
  expect(ref.commitFrames).toBe(4); // the CREATE TABLE and three transactions
  expectSameFrames(ref, scan);
  for (const [pgno, want] of ref.pages) expect(scan.pages.get(pgno)!.data?.equals(want.data), `page ${pgno}`).toBe(true);
});

test('a scan past that size finds every commit and every newest frame', async () => {
  // 24 MiB of pages in six transactions: well past the 16 MiB kept, and hundreds of chunks.
  const { ref, scan } = await scanCopy('large', 6, 4 << 20);
  expect(ref.end - WAL_HEADER_SIZE).toBeGreaterThan(24 << 20);
  expectSameFrames(ref, scan);
  for (const [pgno, got] of scan.pages) expect(got.data, `page ${pgno}`).toBeNull();
});

// A WAL after a RESTART checkpoint: the file keeps its size, the new generation's frames are written
// over the start of it, and the rest is the old generation's (other salts). Copied with its index.
const RESTARTED = String.raw`
import os, shutil, sqlite3, sys
d = sys.argv[1]
db = os.path.join(d, 'app.db')
c = sqlite3.connect(db, isolation_level=None)
assert c.execute('PRAGMA journal_mode=WAL').fetchone()[0] == 'wal'
c.execute('PRAGMA wal_autocheckpoint=0')
c.execute('CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)')
for i in range(5):
    c.execute('INSERT INTO t(v) VALUES (?)', (os.urandom(262144),))
assert c.execute('PRAGMA wal_checkpoint(RESTART)').fetchone()[0] == 0
for i in range(2):
    c.execute('INSERT INTO t(v) VALUES (?)', (os.urandom(20000),))
shutil.copyfile(db + '-wal', os.path.join(d, 'copy.wal'))
shutil.copyfile(db + '-shm', os.path.join(d, 'copy.shm'))
`;

test('the WAL index hint sizes the first read: the same frames whatever the hint, one read with a right one', async () => {
  const d = path.join(dir, 'restarted');
  await fsp.mkdir(d);
  execFileSync('python3', ['-c', RESTARTED, d]);
  const file = path.join(d, 'copy.wal');
  const wal = readFileSync(file);
  const ref = walkWhole(wal);
  const mxFrame = readFileSync(path.join(d, 'copy.shm')).readUInt32LE(16);
  const frameSize = WAL_FRAME_HEADER_SIZE + ref.header.pageSize;
  // The new generation ends well before the file does.
  expect(mxFrame).toBe((ref.end - WAL_HEADER_SIZE) / frameSize);
  expect(wal.length - ref.end).toBeGreaterThan(100 * frameSize);
  expect(ref.commitFrames).toBe(2);

  const fh = await fsp.open(file, 'r');
  try {
    const h = ref.header;
    const asyncReads = vi.spyOn(fh, 'read');
    for (const [hint, reads] of [
      [mxFrame, 0],
      [null, 1],
      [2, 1],
      [mxFrame + 40, 0],
      [0, 1],
    ] as const) {
      asyncReads.mockClear();
      const scan = await scanWal(fh, h, WAL_HEADER_SIZE, { s1: h.checksum1, s2: h.checksum2 }, hint);
      expectSameFrames(ref, scan);
      for (const [pgno, want] of ref.pages) expect(scan.pages.get(pgno)!.data?.equals(want.data), `hint ${hint}, page ${pgno}`).toBe(true);
      expect(asyncReads.mock.calls.length, `hint ${hint}`).toBe(reads);
    }
  } finally {
    await fh.close();
  }
});
