import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDbHeader } from '../../src/sqlite/db-header.js';

// Three databases written by SQLite through Python: WAL mode with 1024-byte pages, rollback
// journal with 4096-byte pages, and WAL mode with 65536-byte pages (stored as 1 in the header).
const WRITER = String.raw`
import json, os, sqlite3, sys
d = sys.argv[1]
out = {}
for name, size, mode in [('wal.db', 1024, 'wal'), ('rollback.db', 4096, 'delete'), ('big.db', 65536, 'wal')]:
    p = os.path.join(d, name)
    c = sqlite3.connect(p, isolation_level=None)
    c.execute('PRAGMA page_size=%d' % size)
    c.execute('PRAGMA journal_mode=%s' % mode)
    c.execute('CREATE TABLE t(v)')
    for i in range(40):
        c.execute('INSERT INTO t VALUES (?)', (os.urandom(200),))
    out[name] = c.execute('PRAGMA page_count').fetchone()[0]
    c.execute('PRAGMA wal_checkpoint(TRUNCATE)') if mode == 'wal' else None
    c.close()
print(json.dumps(out))
`;

let dir: string;
let counts: Record<string, number>;
const head = (name: string): Buffer => readFileSync(path.join(dir, name)).subarray(0, 100);

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'walship-dbh-'));
  counts = JSON.parse(execFileSync('python3', ['-c', WRITER, dir], { encoding: 'utf8' })) as Record<string, number>;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('parseDbHeader on databases SQLite wrote', () => {
  it('WAL database: 1024-byte pages, WAL mode, page count equal to the file size', () => {
    const size = statSync(path.join(dir, 'wal.db')).size;
    expect(parseDbHeader(head('wal.db'))).toEqual({ pageSize: 1024, pageCount: size / 1024, walMode: true });
    expect(size / 1024).toBe(counts['wal.db']);
  });

  it('rollback-journal database: 4096-byte pages, not WAL mode', () => {
    const size = statSync(path.join(dir, 'rollback.db')).size;
    expect(parseDbHeader(head('rollback.db'))).toEqual({ pageSize: 4096, pageCount: counts['rollback.db'], walMode: false });
    expect(size / 4096).toBe(counts['rollback.db']);
  });

  it('65536-byte pages, which the header stores as the value 1', () => {
    const b = head('big.db');
    expect(b.readUInt16BE(16)).toBe(1);
    expect(parseDbHeader(b)).toEqual({ pageSize: 65536, pageCount: counts['big.db'], walMode: true });
  });
});

describe('parseDbHeader on edited headers', () => {
  it('ignores the in-header size when the change counter differs from version-valid-for', () => {
    const b = Buffer.from(head('rollback.db'));
    b.writeUInt32BE(b.readUInt32BE(24) + 1, 24);
    expect(parseDbHeader(b)).toEqual({ pageSize: 4096, pageCount: null, walMode: false });
  });

  it('treats an in-header size of 0 as unknown', () => {
    const b = Buffer.from(head('rollback.db'));
    b.writeUInt32BE(0, 28);
    expect(parseDbHeader(b)?.pageCount).toBeNull();
  });

  it('needs both read and write version 2 for WAL mode', () => {
    const b = Buffer.from(head('wal.db'));
    expect([b[18], b[19]]).toEqual([2, 2]);
    b[19] = 1;
    expect(parseDbHeader(b)?.walMode).toBe(false);
  });

  it('returns null for a short buffer, an empty file and a file that is not SQLite', () => {
    expect(parseDbHeader(head('wal.db').subarray(0, 99))).toBeNull();
    expect(parseDbHeader(Buffer.alloc(100))).toBeNull();
    const b = Buffer.from(head('wal.db'));
    b.write('SQLite format 4', 0, 'latin1');
    expect(parseDbHeader(b)).toBeNull();
  });
});
