// Config loading: Litestream files work unchanged, and each malformed file is refused with one line
// naming the key (or the YAML line) at fault.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-cfg-'));
const keyFile = path.join(dir, 'id_ed25519');
writeFileSync(keyFile, 'not really a key');

describe('valid configs', () => {
  it('reads the seed deployment litestream.yml unchanged (v0.3 replicas list)', () => {
    const { config, warnings } = parseConfig(
      `dbs:
  - path: /path/to/your/cache.db
    replicas:
      - url: sftp://user@replica-server/path/to/replica/cache.db
        retention: 24h
        sync-interval: 5m  # Since data changes infrequently
        validation-interval: 1h
`,
      'litestream.yml',
    );
    expect(warnings).toEqual([]);
    const r = config.dbs[0]!.replicas[0]!;
    expect(config.dbs[0]!.path).toBe('/path/to/your/cache.db');
    expect(r).toMatchObject({ name: 'sftp', type: 'sftp', path: '/path/to/replica/cache.db', syncIntervalMs: 300_000, retentionMs: 86_400_000, validationIntervalMs: 3_600_000 });
    expect(r.sftp).toMatchObject({ host: 'replica-server', port: 22, user: 'user' });
  });

  it('reads the v0.5 style: replica:, snapshot:, levels:, validation:, retention:', () => {
    const { config, warnings } = parseConfig(
      `snapshot:
  interval: 12h
  retention: 72h
levels:
  - interval: 10s
  - interval: 2m
validation:
  interval: 30m
retention:
  enabled: true
dbs:
  - path: /data/app.db
    replica:
      url: file:///backup/app
`,
      'v05.yml',
    );
    expect(warnings).toEqual([]);
    expect(config.levelIntervalsMs).toEqual([10_000, 120_000, 3_600_000]);
    expect(config.dbs[0]!.replicas[0]).toMatchObject({ type: 'file', path: '/backup/app', snapshotIntervalMs: 43_200_000, retentionMs: 259_200_000, validationIntervalMs: 1_800_000 });
  });

  it('expands $VAR and ${VAR}, unless told not to', () => {
    const text = 'dbs:\n  - path: ${DATA}/a.db\n    replicas:\n      - path: $BACKUP/a\n';
    const env = { DATA: '/srv', BACKUP: '/mnt/b' };
    expect(parseConfig(text, 'f', { env }).config.dbs[0]!.replicas[0]!.path).toBe('/mnt/b/a');
    expect(() => parseConfig(text, 'f', { env, expandEnv: false })).not.toThrow();
    expect(parseConfig(text, 'f', { env, expandEnv: false }).config.dbs[0]!.path).toContain('${DATA}');
  });

  it('names several replicas by type with an index, and keeps given names', () => {
    const { config } = parseConfig(
      'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b1\n      - path: /b2\n      - url: sftp://u@h/p\n        name: offsite\n',
      'f',
    );
    expect(config.dbs[0]!.replicas.map((r) => r.name)).toEqual(['file0', 'file1', 'offsite']);
  });

  it('warns about unknown keys by name', () => {
    const { warnings } = parseConfig('dbs:\n  - path: /a.db\n    colour: blue\n    replicas:\n      - path: /b\n        speed: fast\n', 'f');
    expect(warnings).toEqual(['config f: unknown key dbs[0].colour (ignored)', 'config f: unknown key dbs[0].replicas[0].speed (ignored)']);
  });
});

const MALFORMED: Array<[string, string, RegExp]> = [
  ['empty file', '', /file is empty/],
  ['only a comment', '# nothing\n', /file is empty/],
  ['YAML syntax error', 'dbs:\n  - path: /a.db\n    replicas: [\n', /line \d+: invalid YAML/],
  ['tab indentation', 'dbs:\n\t- path: /a.db\n', /invalid YAML/],
  ['duplicate key', 'dbs: []\ndbs: []\n', /line 2: dbs: duplicate key/],
  ['top level is a list', '- a\n- b\n', /\(top level\): expected a mapping/],
  ['dbs missing', 'addr: ":9090"\n', /dbs: required/],
  ['dbs is a mapping', 'dbs:\n  path: /a.db\n', /dbs: expected a list/],
  ['dbs empty', 'dbs: []\n', /dbs: the list is empty/],
  ['db without path', 'dbs:\n  - replicas:\n      - path: /b\n', /dbs\[0\]\.path: required/],
  ['db without replicas', 'dbs:\n  - path: /a.db\n', /dbs\[0\]\.replicas: required/],
  ['replicas empty', 'dbs:\n  - path: /a.db\n    replicas: []\n', /dbs\[0\]\.replicas: the list is empty/],
  ['replica and replicas', 'dbs:\n  - path: /a.db\n    replica:\n      path: /b\n    replicas:\n      - path: /c\n', /dbs\[0\]\.replica: use either/],
  ['replica without url or path', 'dbs:\n  - path: /a.db\n    replicas:\n      - sync-interval: 1s\n', /dbs\[0\]\.replicas\[0\]: needs url: or path:/],
  ['bad URL scheme', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: gs://bucket/a\n', /dbs\[0\]\.replicas\[0\]\.url: unsupported replica scheme "gs"/],
  ['sftp URL without user', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://host/p\n', /dbs\[0\]\.replicas\[0\]\.user: sftp replica needs a user/],
  ['sftp URL without path', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@host\n', /dbs\[0\]\.replicas\[0\]\.url: sftp replica needs a path/],
  ['sftp port out of range', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@host:70000/p\n', /dbs\[0\]\.replicas\[0\]\.url/],
  ['missing key file', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@h/p\n        key-path: /nonexistent/id_rsa\n', /dbs\[0\]\.replicas\[0\]\.key-path: file \/nonexistent\/id_rsa does not exist/],
  ['missing known_hosts file', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@h/p\n        known-hosts-path: /nonexistent/kh\n', /known-hosts-path: file \/nonexistent\/kh does not exist/],
  ['sftp key on a file replica', `dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        key-path: ${keyFile}\n`, /dbs\[0\]\.replicas\[0\]\.key-path: only applies to sftp replicas/],
  ['sync-interval not a duration', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        sync-interval: fast\n', /dbs\[0\]\.replicas\[0\]\.sync-interval: "fast" is not a duration/],
  ['negative duration', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        retention: -1h\n', /dbs\[0\]\.replicas\[0\]\.retention: "-1h" is negative/],
  ['duration without unit', 'dbs:\n  - path: /a.db\n    monitor-interval: 5\n    replicas:\n      - path: /b\n', /dbs\[0\]\.monitor-interval: 5 is not a duration/],
  ['zero retention', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        retention: 0s\n', /retention: "0s" must be greater than zero/],
  ['page count not an integer', 'dbs:\n  - path: /a.db\n    min-checkpoint-page-count: many\n    replicas:\n      - path: /b\n', /dbs\[0\]\.min-checkpoint-page-count: "many" is not an integer/],
  ['page count below minimum', 'dbs:\n  - path: /a.db\n    truncate-page-n: 0\n    replicas:\n      - path: /b\n', /dbs\[0\]\.truncate-page-n: 0 is below the minimum 1/],
  ['bad addr', 'addr: localhost\ndbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n', /addr: "localhost" is not host:port/],
  ['addr port out of range', 'addr: ":99999"\ndbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n', /addr: port 99999 is out of range/],
  ['bad log level', 'logging:\n  level: loud\ndbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n', /logging\.level: "loud" is not one of/],
  ['insecure flag not a boolean', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: sftp://u@h/p\n        insecure-skip-host-key-check: "yes please"\n', /insecure-skip-host-key-check: "yes please" is not true or false/],
  ['duplicate database', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n  - path: /a.db\n    replicas:\n      - path: /c\n', /dbs\[1\]\.path: \/a\.db is listed twice/],
  ['duplicate replica name', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        name: x\n      - path: /c\n        name: x\n', /replicas\[1\]\.name: replica name "x" is used twice/],
  ['type contradicts URL', 'dbs:\n  - path: /a.db\n    replicas:\n      - url: file:///b\n        type: sftp\n', /replicas\[0\]\.type: "sftp" does not match/],
  ['too many levels', 'levels:\n  - interval: 1s\n  - interval: 2s\n  - interval: 3s\n  - interval: 4s\ndbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n', /levels: at most 3 compaction levels/],
  ['dir without pattern', 'dbs:\n  - dir: /data\n    replicas:\n      - path: /b\n', /dbs\[0\]\.pattern: required with dir:/],
  ['bad backlog limit', 'dbs:\n  - path: /a.db\n    replicas:\n      - path: /b\n        backlog-limit: lots\n', /backlog-limit: "lots" is not a size/],
];

describe('malformed configs', () => {
  it('covers at least 25 cases', () => expect(MALFORMED.length).toBeGreaterThanOrEqual(25));
  it.each(MALFORMED)('%s', (_name, text, expected) => {
    let err: unknown;
    try {
      parseConfig(text, 'bad.yml', { env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toMatch(/^config bad\.yml/);
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });
});
