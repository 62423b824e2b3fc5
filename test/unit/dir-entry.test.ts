// Directory entries, the pure part: Go's filepath.Match patterns, which relative paths an entry
// takes (recursive or not), the replica path each database gets (Litestream 0.5's layout), what a
// matching file is from its header, the config keys and their refusals, and the replica walk that
// finds an entry's databases for a restore.
import { describe, expect, it } from 'vitest';
import { dbConfigFor, descendsInto, matchesEntry, relativeToEntry } from '../../src/config/dir-entry.js';
import { classifyDbFile } from '../../src/sqlite/db-header.js';
import { compileGlob } from '../../src/config/glob.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import type { DirConfig } from '../../src/config/types.js';
import { findReplicaDatabases, isDatabaseRoot, type ReplicaTree } from '../../src/replica/tree.js';

function glob(p: string): RegExp {
  const g = compileGlob(p);
  if (!g.ok) throw new Error(`${p}: ${g.problem}`);
  return g.re;
}

describe('patterns (Go filepath.Match)', () => {
  it.each([
    ['*.db', 'app.db', true],
    ['*.db', 'app.db-wal', false],
    ['*.db', '.db', true],
    ['*.db', 'a/b.db', false],
    ['tenant-?.sqlite', 'tenant-7.sqlite', true],
    ['tenant-?.sqlite', 'tenant-10.sqlite', false],
    ['[a-c]*.db', 'beta.db', true],
    ['[a-c]*.db', 'delta.db', false],
    ['[^a-c]*.db', 'delta.db', true],
    ['[^a-c]*.db', 'alpha.db', false],
    ['\\*.db', '*.db', true],
    ['\\*.db', 'x.db', false],
    ['a.b', 'axb', false],
    ['*', 'anything', true],
    ['[\\]]x', ']x', true],
    ['(x)+.db', '(x)+.db', true],
  ])('%s against %s: %s', (p, name, expected) => {
    expect(glob(p).test(name)).toBe(expected);
  });

  it.each([['[abc'], ['x\\'], ['[]'], ['[-a]'], ['[z-a]']])('%s is refused as Go refuses it', (p) => {
    expect(compileGlob(p).ok).toBe(false);
  });
});

const entry = (over: Partial<DirConfig> = {}): DirConfig => ({
  dir: '/data',
  pattern: '*.db',
  recursive: false,
  watch: false,
  keyPath: 'dbs[0]',
  template: {
    monitorIntervalMs: 1000,
    checkpointIntervalMs: 60_000,
    busyTimeoutMs: 1000,
    minCheckpointPageN: 500,
    truncatePageN: 121_359,
    keyPath: 'dbs[0]',
    replicas: [],
  },
  ...over,
});

describe('which relative paths an entry takes', () => {
  it('without recursive: only the directory itself', () => {
    const e = entry();
    expect(matchesEntry(e, 'a.db')).toBe(true);
    expect(matchesEntry(e, 'sub/a.db')).toBe(false);
    expect(descendsInto(e, 'sub')).toBe(false);
  });

  it('with recursive: any depth, the pattern on the name alone', () => {
    const e = entry({ recursive: true });
    expect(matchesEntry(e, 'sub/a.db')).toBe(true);
    expect(matchesEntry(e, 'x/y/z/a.db')).toBe(true);
    expect(matchesEntry(e, 'a.db/x.txt')).toBe(false);
    expect(descendsInto(e, 'x/y')).toBe(true);
  });

  it("never SQLite's companion files, never inside walship's staging directories", () => {
    const e = entry({ pattern: '*', recursive: true });
    for (const name of ['a.db-wal', 'a.db-shm', 'a.db-journal']) expect(matchesEntry(e, name)).toBe(false);
    expect(matchesEntry(e, '.a.db-walship/replicator.lock')).toBe(false);
    expect(matchesEntry(e, 'sub/.a.db-walship/validate-file.db')).toBe(false);
    expect(descendsInto(e, 'sub/.a.db-walship')).toBe(false);
    expect(matchesEntry(e, 'sub/.hidden.db')).toBe(true);
  });

  it('"." and ".." never name a database (a replica listing may hold them as key segments)', () => {
    const e = entry({ pattern: '*', recursive: true });
    for (const rel of ['..', '.', '../x.db', 'a/../x.db', 'a//x.db']) expect(matchesEntry(e, rel)).toBe(false);
  });

  it('relative paths: under the directory only', () => {
    const e = entry();
    expect(relativeToEntry(e, '/data/sub/a.db')).toBe('sub/a.db');
    expect(relativeToEntry(e, '/data')).toBeNull();
    expect(relativeToEntry(e, '/database/a.db')).toBeNull();
    expect(relativeToEntry(e, '/other/a.db')).toBeNull();
  });
});

describe("each database's replicas: <replica path>/<relative path>", () => {
  const cfg = parseConfig(
    `dbs:
  - dir: /data
    pattern: "*.db"
    recursive: true
    watch: true
    monitor-interval: 2s
    replicas:
      - url: file:///backup/tenants
      - url: sftp://u@host:2222/srv/tenants
        host-key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
      - url: s3://bucket/prefix/tenants
        endpoint: http://127.0.0.1:9000
`,
    'd.yml',
    { env: {} },
  ).config;

  it('the entry is read as Litestream 0.5 reads it', () => {
    expect(cfg.dbs).toEqual([]);
    expect(cfg.dirs).toHaveLength(1);
    const d = cfg.dirs[0]!;
    expect([d.dir, d.pattern, d.recursive, d.watch, d.template.monitorIntervalMs]).toEqual(['/data', '*.db', true, true, 2000]);
  });

  it('file, sftp and s3 alike', () => {
    const db = dbConfigFor(cfg.dirs[0]!, 'eu/acme.db');
    expect(db.path).toBe('/data/eu/acme.db');
    expect(db.replicas.map((r) => [r.type, r.path])).toEqual([
      ['file', '/backup/tenants/eu/acme.db'],
      ['sftp', '/srv/tenants/eu/acme.db'],
      ['s3', 'prefix/tenants/eu/acme.db'],
    ]);
    expect(db.monitorIntervalMs).toBe(2000);
    expect(db.keyPath).toBe('dbs[0] (eu/acme.db)');
    // The entry's own replicas are left as they were.
    expect(cfg.dirs[0]!.template.replicas[0]!.path).toBe('/backup/tenants');
  });
});

describe('what a matching file is', () => {
  const header = (walByte: number): Buffer => {
    const b = Buffer.alloc(100);
    b.write('SQLite format 3\0', 0, 'latin1');
    b.writeUInt16BE(4096, 16);
    b[18] = walByte;
    b[19] = walByte;
    return b;
  };
  it.each([
    ['an empty file (just created)', Buffer.alloc(0), 0, 'empty'],
    ['text', Buffer.from('hello, not a database'), 21, 'not-sqlite'],
    ['a rollback-journal database', header(1), 4096, 'not-wal'],
    ['a WAL-mode database', header(2), 4096, 'wal'],
  ])('%s', (_name, head, size, kind) => {
    expect(classifyDbFile(head, size)).toBe(kind);
  });
});

function refusal(text: string): string {
  try {
    parseConfig(text, 'd.yml', { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('refused directory entries', () => {
  it.each([
    ['path and dir', 'dbs:\n  - path: /a.db\n    dir: /data\n    pattern: "*.db"\n    replica: { path: /b }\n', /dbs\[0\]\.dir: give either path: or dir:, not both/],
    ['dir without pattern', 'dbs:\n  - dir: /data\n    replica: { path: /b }\n', /dbs\[0\]\.pattern: required with dir:/],
    ['pattern without dir', 'dbs:\n  - path: /a.db\n    pattern: "*.db"\n    replica: { path: /b }\n', /dbs\[0\]\.pattern: only applies with dir:/],
    ['watch without dir', 'dbs:\n  - path: /a.db\n    watch: true\n    replica: { path: /b }\n', /dbs\[0\]\.watch: only applies with dir:/],
    ['a malformed pattern', 'dbs:\n  - dir: /data\n    pattern: "[abc"\n    replica: { path: /b }\n', /dbs\[0\]\.pattern: "\[abc" has a "\[" with no closing "\]"/],
    ['a pattern with a slash', 'dbs:\n  - dir: /data\n    pattern: "sub/*.db"\n    replica: { path: /b }\n', /cannot hold "\/"/],
    ['recursive not a boolean', 'dbs:\n  - dir: /data\n    pattern: "*.db"\n    recursive: yes please\n    replica: { path: /b }\n', /dbs\[0\]\.recursive: "yes please" is not true or false/],
  ])('%s', (_name, text, expected) => {
    expect(refusal(text)).toMatch(expected);
  });
});

describe('overlaps with directory entries', () => {
  it.each([
    ['two entries, one replica root', 'dbs:\n  - dir: /a\n    pattern: "*.db"\n    replica: { path: /b/r }\n  - dir: /c\n    pattern: "*.db"\n    replica: { path: /b/r }\n'],
    ['an entry root inside another', 'dbs:\n  - dir: /a\n    pattern: "*.db"\n    replica: { path: /b/r }\n  - dir: /c\n    pattern: "*.db"\n    replica: { path: /b/r/c }\n'],
    ['a path: database inside an entry root', 'dbs:\n  - path: /x/app.db\n    replica: { path: /b/r/app.db }\n  - dir: /c\n    pattern: "*.db"\n    replica: { path: /b/r }\n'],
    ['s3: one bucket and prefix', 'dbs:\n  - dir: /a\n    pattern: "*.db"\n    replica: { url: "s3://bk/t" }\n  - path: /c/x.db\n    replica: { url: "s3://bk/t/x.db" }\n'],
  ])('%s: refused', (_name, text) => {
    expect(refusal(text)).toMatch(/replica location overlaps/);
  });

  it('a file replica root inside a scanned directory: refused', () => {
    expect(refusal('dbs:\n  - dir: /data\n    pattern: "*.db"\n    replica: { path: /data/backup }\n')).toMatch(/dbs\[0\]\.replica: \/data\/backup is inside \/data, the directory dbs\[0\] scans/);
    expect(refusal('dbs:\n  - dir: /data\n    pattern: "*.db"\n    replica: { path: /data }\n')).toMatch(/is inside \/data/);
  });

  it('apart: accepted', () => {
    const c = parseConfig('dbs:\n  - dir: /a\n    pattern: "*.db"\n    replica: { path: /b/r1 }\n  - dir: /c\n    pattern: "*.db"\n    replica: { path: /b/r2 }\n  - path: /x/app.db\n    replica: { path: /b/r10 }\n', 'd.yml', { env: {} });
    expect([c.config.dirs.length, c.config.dbs.length]).toEqual([2, 1]);
  });
});

function memTree(scheme: 'dir' | 's3', paths: string[]): ReplicaTree {
  return {
    scheme,
    location: 'mem:',
    async subdirs(rel) {
      const prefix = rel === '' ? '' : `${rel}/`;
      const names = new Set<string>();
      for (const p of paths) if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
      return [...names];
    },
    async close() {},
  };
}

describe("finding an entry's databases on its replica", () => {
  const dirLayout = ['a.db/ltx/0/f.ltx', 'b.db/ltx/9/f.ltx', 'notes.txt/ltx/0/f.ltx', 'sub/c.db/ltx/1/f.ltx', 'sub/deeper/d.db/ltx/0/f.ltx', 'stray/other'];

  it('not recursive: the databases at the top', async () => {
    expect(await findReplicaDatabases(memTree('dir', dirLayout), { pattern: '*.db', recursive: false })).toEqual(['a.db', 'b.db']);
  });

  it('recursive: every depth, the pattern still applies', async () => {
    expect(await findReplicaDatabases(memTree('dir', dirLayout), { pattern: '*.db', recursive: true })).toEqual(['a.db', 'b.db', 'sub/c.db', 'sub/deeper/d.db']);
  });

  it("s3's level prefixes", async () => {
    const s3 = ['a.db/0000/f.ltx', 'x/b.db/0009/f.ltx', 'x/y/zz'];
    expect(await findReplicaDatabases(memTree('s3', s3), { pattern: '*.db', recursive: true })).toEqual(['a.db', 'x/b.db']);
    expect(isDatabaseRoot(['0001'], 's3')).toBe(true);
    expect(isDatabaseRoot(['ltx'], 's3')).toBe(false);
  });

  it('an empty replica has none', async () => {
    expect(await findReplicaDatabases(memTree('dir', []), { pattern: '*.db', recursive: true })).toEqual([]);
  });
});
