// Replicas that would write the same files are refused at load, naming both keys: two databases on
// one replica (restore would return the other's data), one database twice, and a file replica in
// the database's own file, directory or staging directory.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { replicaIdentity } from '../../src/config/overlap.js';

function refusal(text: string): string {
  try {
    parseConfig(text, 'o.yml', { env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

const two = (a: string, b: string): string => `dbs:\n  - path: /data/a.db\n    replicas:\n      - ${a}\n  - path: /data/b.db\n    replicas:\n      - ${b}\n`;

describe('two databases onto one replica', () => {
  it.each([
    ['same file directory', 'url: file:///backup/x', 'path: /backup/x'],
    ['same directory spelled differently', 'path: /backup/x/', 'url: file:///backup/./y/../x'],
    ['same sftp host, port and path', 'url: sftp://u@Host.example:22/srv/r', 'url: sftp://v@host.example/srv/r/'],
    ['sftp host: field against URL', 'url: sftp://u@h:2222/srv/r', "{ type: sftp, host: 'h:2222', user: u, path: /srv/r }"],
  ])('%s: refused naming both databases and keys', (_name, a, b) => {
    const m = refusal(two(a, b));
    expect(m).toMatch(/^config o\.yml: dbs\[1\]\.replicas\[0\]: same replica location as dbs\[0\]\.replicas\[0\]/);
    expect(m).toContain('databases /data/a.db (dbs[0].replicas[0]) and /data/b.db');
  });

  it.each([
    ['different directories', 'path: /backup/a', 'path: /backup/b'],
    ['different sftp ports', 'url: sftp://u@h:22/r', 'url: sftp://u@h:2222/r'],
    ['different sftp hosts', 'url: sftp://u@h1/r', 'url: sftp://u@h2/r'],
    ['file and sftp with one path', 'path: /srv/r', 'url: sftp://u@h/srv/r'],
  ])('%s: accepted', (_name, a, b) => {
    expect(parseConfig(two(a, b), 'o.yml', { env: {} }).config.dbs).toHaveLength(2);
  });

  it('one database listing one location twice is refused too', () => {
    const m = refusal('dbs:\n  - path: /data/a.db\n    replicas:\n      - path: /backup/a\n      - url: file:///backup/a\n');
    expect(m).toMatch(/dbs\[0\]\.replicas\[1\]: same replica location as dbs\[0\]\.replicas\[0\]: it would hold database \/data\/a\.db twice/);
  });

  it('a relative sftp path is under each user\'s home, so two users differ; an absolute one does not', () => {
    const ok = two("{ type: sftp, host: h, user: u, path: backup }", "{ type: sftp, host: h, user: v, path: backup }");
    expect(parseConfig(ok, 'o.yml', { env: {} }).config.dbs).toHaveLength(2);
    expect(refusal(two("{ type: sftp, host: h, user: u, path: /backup }", "{ type: sftp, host: h, user: v, path: /backup }"))).toMatch(/same replica location/);
  });
});

describe('a file replica where the database lives', () => {
  const one = (replica: string): string => `dbs:\n  - path: /data/a.db\n    replicas:\n      - path: ${replica}\n  - path: /other/b.db\n    replicas:\n      - path: /backup/b\n`;
  it.each([
    ['the database file', '/data/a.db', /\/data\/a\.db is the database file of dbs\[0\]/],
    ['the database directory', '/data', /\/data is the directory of database \/data\/a\.db \(dbs\[0\]\)/],
    ['the staging directory', '/data/.a.db-walship', /is inside \/data\/\.a\.db-walship, the local staging directory of \/data\/a\.db/],
    ['under the staging directory', '/data/.a.db-walship/r', /is inside \/data\/\.a\.db-walship/],
    ["another database's directory", '/other', /\/other is the directory of database \/other\/b\.db \(dbs\[1\]\)/],
  ])('%s: refused', (_name, replica, expected) => {
    const m = refusal(one(replica));
    expect(m).toMatch(/^config o\.yml: dbs\[0\]\.replicas\[0\]: /);
    expect(m).toMatch(expected);
    expect(m).not.toContain('\n');
  });

  it.each([['a sibling directory', '/data/backup'], ['a parent directory', '/'], ['a name that only starts like staging', '/data/.a.db-walship2']])('%s: accepted', (_n, replica) => {
    expect(parseConfig(one(replica), 'o.yml', { env: {} }).config.dbs[0]!.replicas[0]!.path).toBe(replica);
  });

  it('the command-line form (replicate DB URL) is checked the same way', async () => {
    const { buildConfigFromUrls } = await import('../../src/config/load.js');
    expect(() => buildConfigFromUrls('/data/a.db', ['file:///data'])).toThrow(/command line: dbs\[0\]\.replicas\[0\]: \/data is the directory of database/);
  });
});

describe('replicaIdentity', () => {
  it('is one string per location, whatever the spelling', () => {
    const cfg = parseConfig(
      'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@HOST:2200/x/y/\n      - path: /b/c/\n',
      'o.yml',
      { env: {} },
    ).config.dbs[0]!.replicas;
    expect(cfg.map(replicaIdentity)).toEqual(['sftp:host:2200:/x/y', 'file:/b/c']);
  });
});
