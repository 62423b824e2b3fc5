import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration (Go time.ParseDuration syntax, in milliseconds)', () => {
  it.each<[string, number]>([
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0', 0],
    ['+0', 0],
    ['0s', 0],
    ['-1s', -1000],
    ['+5m', 300_000],
    ['10s', 10_000],
    ['1h', 3_600_000],
    ['24h', 86_400_000],
    ['2h45m30.5s', 9_930_500],
    ['1m30s500ms', 90_500],
    ['.5s', 500],
    ['1.s', 1000],
    ['1.1s', 1100],
    ['1.001s', 1001],
    ['1.005s', 1005],
    ['0.001s', 1],
    ['1500us', 1.5],
    ['1500µs', 1.5], // U+00B5 micro sign
    ['1500μs', 1.5], // U+03BC Greek mu
    ['2000000ns', 2],
    ['1ns', 0.000001],
    ['-1.5h', -5_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    'fast',
    '1', // Go requires a unit on every number except a bare 0
    '100',
    '-1',
    '',
    's',
    '.s',
    '-',
    '1d',
    '1 s',
    '1h-30m',
    '1h 30m',
    '1S',
    '1e3s',
    '0x10s',
    '--1s',
  ])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [3_600_000, '1h'],
    [7_200_000, '2h'],
    [5_400_000, '90m'],
    [60_000, '1m'],
    [90_000, '90s'],
    [1000, '1s'],
    [0, '0s'],
    [1500, '1500ms'],
    [250, '250ms'],
  ])('%d ms prints as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('what it prints parses back to the same value', () => {
    for (const ms of [1, 999, 1000, 59_000, 60_000, 61_000, 3_600_000, 5_400_000, 86_400_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
