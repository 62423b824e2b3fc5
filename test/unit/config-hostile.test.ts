// Configs a careless or hostile operator writes: each is refused at load with one short line naming
// the key (and the file), never a raw Node error, never the whole value echoed back.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertDatabaseFiles, databaseFileProblem } from '../../src/config/db-file.js';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl host';

function refusal(text: string, file = 'h.yml'): string {
  try {
    parseConfig(text, file, { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const m = (err as Error).message;
    expect(m).not.toContain('\n');
    return m;
  }
  throw new Error('config was accepted');
}

const sftp = (extra: string): string => `dbs:\n  - path: /data/a.db\n    replicas:\n      - url: sftp://u@h/r\n${extra}`;

describe('host-key is checked at load', () => {
  it('a malformed line is refused naming the key', () => {
    expect(refusal(sftp('        host-key: garbage\n'))).toBe(
      'config h.yml: dbs[0].replicas[0].host-key: "garbage" is not a public key line such as "ssh-ed25519 AAAAC3Nza... comment"',
    );
    expect(refusal(sftp('        host-key: ssh-ed25519 AAAA!!notbase64\n'))).toMatch(/replicas\[0\]\.host-key: .* is not a public key line/);
    expect(refusal(sftp('        host-key: 42\n'))).toMatch(/replicas\[0\]\.host-key: expected a string, got number 42/);
  });

  it('a valid key line is kept', () => {
    expect(parseConfig(sftp(`        host-key: ${ED25519}\n`), 'h.yml', { env: {} }).config.dbs[0]!.replicas[0]!.sftp!.hostKey).toBe(ED25519);
  });
});

describe('YAML that attacks the parser', () => {
  it('an alias bomb names the file', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [prev, next] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g']]) levels.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    const m = refusal(`${levels.join('\n')}\ndbs: []\n`, '/etc/bomb.yml');
    expect(m).toMatch(/^config \/etc\/bomb\.yml: invalid YAML: aliases expand to too many nodes/);
  });

  it('a few aliases are fine', () => {
    const text = 'x: &iv 2s\ndbs:\n  - path: /data/a.db\n    replicas:\n      - path: /backup/a\n        sync-interval: *iv\n';
    expect(parseConfig(text, 'h.yml', { env: {} }).config.dbs[0]!.replicas[0]!.syncIntervalMs).toBe(2000);
  });

  it.each([
    ['at the top level', 'dbs: []\ndbs: []\n', 'config h.yml line 2: dbs: duplicate key'],
    ['in a replica', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        retention: 1h\n        retention: 2h\n', 'config h.yml line 6: dbs[0].replicas[0].retention: duplicate key'],
    ['in a second database', 'dbs:\n  - path: /a.db\n    replicas: [{path: /b}]\n  - path: /c.db\n    path: /d.db\n    replicas: [{path: /e}]\n', 'config h.yml line 5: dbs[1].path: duplicate key'],
  ])('a duplicate key %s is named with its line', (_name, text, expected) => {
    expect(refusal(text)).toBe(`${expected} (each key may appear once per mapping)`);
  });
});

describe('paths', () => {
  it.each([
    ['a number', 'path: 123', /^config h\.yml: dbs\[0\]\.path: expected a path \(a string\), got number 123$/],
    ['a boolean', 'path: true', /dbs\[0\]\.path: expected a path \(a string\), got boolean true/],
    ['a NUL byte', 'path: "/data/a\\0b.db"', /^config h\.yml: dbs\[0\]\.path: the path contains a NUL byte$/],
    ['10 MB', `path: /data/${'a'.repeat(10_000_000)}`, /^config h\.yml: dbs\[0\]\.path: the path is 10000006 bytes long; the limit is 4095$/],
    ['a name too long for its staging directory', `path: /data/${'a'.repeat(250)}`, /dbs\[0\]\.path: the path has a name of 250 bytes; the limit here is 246 \(walship keeps \.NAME-walship beside it\)/],
  ])('a database path that is %s is refused', (_name, line, expected) => {
    const m = refusal(`dbs:\n  - ${line}\n    replicas:\n      - path: /backup/a\n`);
    expect(m).toMatch(expected);
    expect(m.length).toBeLessThan(300);
  });

  it.each([
    ['replica path a number', '- path: 7', /dbs\[0\]\.replicas\[0\]\.path: expected a string, got number 7/],
    ['replica url a number', '- url: 7', /dbs\[0\]\.replicas\[0\]\.url: expected a string, got number 7/],
    ['replica path with NUL', '- path: "/b\\0x"', /dbs\[0\]\.replicas\[0\]\.path: the path contains a NUL byte/],
    ['file URL with an encoded NUL', '- url: file:///b%00x', /dbs\[0\]\.replicas\[0\]\.url: the path contains a NUL byte/],
    ['replica path of 10 MB', `- path: /${'b'.repeat(10_000_000)}`, /dbs\[0\]\.replicas\[0\]\.path: the path is 10000001 bytes long/],
    ['key-path with NUL', '- url: sftp://u@h/r\n        key-path: "/k\\0"', /dbs\[0\]\.replicas\[0\]\.key-path: the path contains a NUL byte/],
  ])('%s is refused', (_name, line, expected) => {
    const m = refusal(`dbs:\n  - path: /data/a.db\n    replicas:\n      ${line}\n`);
    expect(m).toMatch(expected);
    expect(m.length).toBeLessThan(300);
  });

  it('a config file name with a NUL byte is a config error, not a raw Node error', () => {
    expect(() => loadConfigFile('/etc/a\0b.yml')).toThrow(ConfigError);
    expect(() => loadConfigFile('/etc/a\0b.yml')).toThrow(/^config "\/etc\/a\\u0000b\.yml": the file name contains a NUL byte$/);
    expect(() => loadConfigFile(`/${'c'.repeat(10_000_000)}`)).toThrow(/^config "\/c{98}… \(10000003 characters\): the file name is 10000001 bytes long/);
  });
});

describe('a huge scalar is never echoed back in full', () => {
  it.each([
    ['a duration', (v: string) => `dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        sync-interval: ${v}\n`, /replicas\[0\]\.sync-interval: "x{99}… \(10000002 characters\) is not a duration/],
    ['a size', (v: string) => `dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        backlog-limit: ${v}\n`, /backlog-limit: "x{99}… \(10000002 characters\) is not a size/],
    ['addr', (v: string) => `addr: ${v}\ndbs: []\n`, /^config h\.yml: addr: "x{99}… \(10000002 characters\) is not host:port$/],
    ['a replica URL', (v: string) => `dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@h:99999${v}/r\n`, /replicas\[0\]\.url: not a valid URL: sftp:\/\/u@h:99999x{84}… \(10000018 characters\)$/],
    ['an unknown scheme', (v: string) => `dbs:\n  - path: /a.db\n    replicas:\n      - url: a${v}://r\n`, /replicas\[0\]\.url: unsupported replica scheme "ax{98}… \(10000003 characters\)/],
  ])('in %s', (_name, text, expected) => {
    const m = refusal(text('x'.repeat(10_000_000)));
    expect(m).toMatch(expected);
    expect(m.length).toBeLessThan(300);
  });

  it('a number too large for a double is shown as Infinity, not as null', () => {
    const m = refusal(`dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        retention: ${'9'.repeat(400)}\n`);
    expect(m).toBe('config h.yml: dbs[0].replicas[0].retention: Infinity is not a duration (use Go syntax such as 1s, 500ms, 1h30m)');
  });

  it('nor in a duplicate key (YAML keys stop at 1024 characters)', () => {
    const k = 'k'.repeat(1000);
    expect(refusal(`${k}: 1\n${k}: 2\n`)).toBe('config h.yml line 2: "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk… (1002 characters): duplicate key (each key may appear once per mapping)');
  });

  it('nor in an unknown-key warning', () => {
    const { warnings } = parseConfig(`${'k'.repeat(1000)}: 1\ndbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n`, 'h.yml', { env: {} });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.length).toBeLessThan(300);
  });
});

describe('the database file at replicate start', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-dbfile-'));
  const file = (name: string, content: string | Buffer): string => {
    const p = path.join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const header = Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(84)]);

  it('a missing, empty or SQLite file is fine', () => {
    expect(databaseFileProblem(path.join(dir, 'missing.db'))).toBeNull();
    expect(databaseFileProblem(file('empty.db', ''))).toBeNull();
    expect(databaseFileProblem(file('real.db', header))).toBeNull();
  });

  it('a directory, a text file or a short file is refused naming the key and the file', () => {
    const sub = path.join(dir, 'sub.db');
    mkdirSync(sub);
    const dbs = (p: string) => parseConfig(`dbs:\n  - path: /x.db\n    replicas: [{path: /b}]\n  - path: ${p}\n    replicas: [{path: /c}]\n`, 'h.yml', { env: {} }).config.dbs;
    expect(() => assertDatabaseFiles(dbs(sub))).toThrow(new ConfigError(`dbs[1].path: database ${sub} is a directory, not a SQLite database file`));
    const text = file('notes.db', 'hello, this is not a database at all');
    expect(() => assertDatabaseFiles(dbs(text))).toThrow(new ConfigError(`dbs[1].path: database ${text} is not a SQLite database (its first 16 bytes are not "SQLite format 3")`));
    expect(databaseFileProblem(file('short.db', 'SQLite'))).toMatch(/is not a SQLite database/);
    expect(databaseFileProblem('/dev/null')).toBe('is not a regular file');
  });
});
