// Durations walship waits on with a Node timer (or gives SQLite as its busy timeout) stop at 2^31-1
// ms: past that a timer fires at once, so "1000h" would mean "now". Keys only compared with
// timestamps take any length.
import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS } from '../../src/config/duration.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const base = (top: string, db: string, replica: string): string =>
  `${top}dbs:\n  - path: /data/a.db\n${db}    replicas:\n      - path: /backup/a\n${replica}`;

// [key as reported, top-level lines, db lines, replica lines] for a value of `v`.
const TIMER_KEYS: Array<[string, (v: string) => string]> = [
  ['sync-interval', (v) => base(`sync-interval: ${v}\n`, '', '')],
  ['validation-interval', (v) => base(`validation-interval: ${v}\n`, '', '')],
  ['validation.interval', (v) => base(`validation:\n  interval: ${v}\n`, '', '')],
  ['levels[1].interval', (v) => base(`levels:\n  - interval: 30s\n  - interval: ${v}\n`, '', '')],
  ['shutdown-sync-timeout', (v) => base(`shutdown-sync-timeout: ${v}\n`, '', '')],
  ['heartbeat-interval', (v) => base(`heartbeat-url: http://127.0.0.1:1/x\nheartbeat-interval: ${v}\n`, '', '')],
  ['dbs[0].monitor-interval', (v) => base('', `    monitor-interval: ${v}\n`, '')],
  ['dbs[0].checkpoint-interval', (v) => base('', `    checkpoint-interval: ${v}\n`, '')],
  ['dbs[0].busy-timeout', (v) => base('', `    busy-timeout: ${v}\n`, '')],
  ['dbs[0].replicas[0].sync-interval', (v) => base('', '', `        sync-interval: ${v}\n`)],
  ['dbs[0].replicas[0].retention-check-interval', (v) => base('', '', `        retention-check-interval: ${v}\n`)],
  ['dbs[0].replicas[0].validation-interval', (v) => base('', '', `        validation-interval: ${v}\n`)],
];

describe('timer durations', () => {
  it.each(TIMER_KEYS)('%s: 1000h is refused naming the key and the maximum', (key, text) => {
    let err: unknown;
    try {
      parseConfig(text('1000h'), 't.yml', { env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`config t.yml: ${key}: "1000h" is longer than the maximum 596h31m (2^31-1 ms, about 24.8 days)`);
  });

  it.each(TIMER_KEYS)('%s: 596h31m (just under 2^31-1 ms) is accepted', (_key, text) => {
    expect(() => parseConfig(text('596h31m'), 't.yml', { env: {} })).not.toThrow();
  });

  it('the limit is exactly 2^31-1 ms: one millisecond more is refused', () => {
    expect(MAX_TIMER_MS).toBe(2147483647);
    const at = (v: string) => base('', '', `        sync-interval: ${v}\n`);
    expect(parseConfig(at('2147483647ms'), 't.yml', { env: {} }).config.dbs[0]!.replicas[0]!.syncIntervalMs).toBe(MAX_TIMER_MS);
    expect(() => parseConfig(at('2147483648ms'), 't.yml', { env: {} })).toThrow(/sync-interval: "2147483648ms" is longer than the maximum/);
  });

  it('busy-timeout is whole milliseconds (SQLite takes an int)', () => {
    expect(() => parseConfig(base('', '    busy-timeout: 1500us\n', ''), 't.yml', { env: {} })).toThrow(
      /^config t\.yml: dbs\[0\]\.busy-timeout: "1500us" is not a whole number of milliseconds$/,
    );
    expect(parseConfig(base('', '    busy-timeout: 2000us\n', ''), 't.yml', { env: {} }).config.dbs[0]!.busyTimeoutMs).toBe(2);
  });
});

describe('durations compared with timestamps take long values', () => {
  it('retention, l0-retention, snapshot.retention, snapshot intervals and ready-lag at 10000h', () => {
    const text = base(
      'l0-retention: 10000h\nready-lag: 10000h\nsnapshot:\n  interval: 10000h\n  retention: 10000h\n',
      '',
      '        retention: 10000h\n        snapshot-interval: 10000h\n',
    );
    const { config } = parseConfig(text, 't.yml', { env: {} });
    const h = 10_000 * 3_600_000;
    expect(config.l0RetentionMs).toBe(h);
    expect(config.readyLagMs).toBe(h);
    expect(config.dbs[0]!.replicas[0]).toMatchObject({ retentionMs: h, snapshotIntervalMs: h });
    const inherited = parseConfig(base('snapshot:\n  interval: 10000h\n  retention: 10000h\n', '', ''), 't.yml', { env: {} }).config;
    expect(inherited.dbs[0]!.replicas[0]).toMatchObject({ retentionMs: h, snapshotIntervalMs: h });
  });

  it('but not past the longest Go duration (about 292 years)', () => {
    expect(() => parseConfig(base('', '', '        retention: 3000000h\n'), 't.yml', { env: {} })).toThrow(
      /dbs\[0\]\.replicas\[0\]\.retention: "3000000h" is longer than the longest duration/,
    );
  });

  it('top-level keys are named without a leading dot', () => {
    expect(() => parseConfig(base('l0-retention: soon\n', '', ''), 't.yml', { env: {} })).toThrow(/^config t\.yml: l0-retention: "soon" is not a duration/);
  });
});
