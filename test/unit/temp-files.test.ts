// Which leftover temporary files a sweep removes, and when the next sweep is due.
import { describe, expect, it } from 'vitest';
import { ltxFileName, tempFileName } from '../../src/replica/layout.js';
import { staleTempFiles, SweepSchedule } from '../../src/replica/temp-files.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const MAX = 10 * 60_000;
const tmp = (min: number, token: string): string => tempFileName(ltxFileName(min, min), token);
const at = (name: string, mtimeAgo: number, atimeAgo = mtimeAgo) => ({ name, mtimeMs: NOW - mtimeAgo, atimeMs: NOW - atimeAgo });

describe('staleTempFiles', () => {
  it('removes temporary files untouched for longer than the bound, and nothing else', () => {
    const d = staleTempFiles(
      [
        at(tmp(1, 'deadbeef'), MAX + 1),
        at(tmp(2, 'cafe01'), MAX), // exactly at the bound: not yet
        at(ltxFileName(3, 3), 10 * MAX), // a final file, however old
        at(`${ltxFileName(4, 4)}.tmp`, 10 * MAX), // staging's pattern, not an upload's
        at('notes.tmp', 10 * MAX),
      ],
      NOW,
      MAX,
    );
    expect(d.remove).toEqual([tmp(1, 'deadbeef')]);
    expect(d.nextDueAt).toBe(NOW + 1);
  });

  it('counts the later of mtime and atime: an upload whose mtime was set back is still young', () => {
    // The final mtime is the LTX header's timestamp, maybe days old; the atime is the upload's time.
    const d = staleTempFiles([at(tmp(1, 'a1'), 5 * 24 * 3_600_000, 1_000)], NOW, MAX);
    expect(d.remove).toEqual([]);
    expect(d.nextDueAt).toBe(NOW - 1_000 + MAX + 1);
  });

  it('never removes a name in use, and reports when the youngest left alone turns stale', () => {
    const d = staleTempFiles([at(tmp(1, 'aa'), 2 * MAX), at(tmp(2, 'bb'), 60_000), at(tmp(3, 'cc'), 120_000)], NOW, MAX, new Set([tmp(1, 'aa')]));
    expect(d.remove).toEqual([]);
    expect(d.nextDueAt).toBe(NOW - 120_000 + MAX + 1);
  });

  it('a file from the future (a clock ahead) is young', () => {
    const d = staleTempFiles([at(tmp(1, 'ff'), -3_600_000)], NOW, MAX);
    expect(d.remove).toEqual([]);
    expect(d.nextDueAt).toBe(NOW + 3_600_000 + MAX + 1);
  });

  it('nothing to leave alone means no next sweep', () => {
    expect(staleTempFiles([], NOW, MAX)).toEqual({ remove: [], nextDueAt: null });
  });
});

describe('SweepSchedule', () => {
  it('is due at first, then when a leftover turns stale, again after markDue, and a while after a failure', () => {
    const s = new SweepSchedule(30_000);
    expect(s.isDue(NOW)).toBe(true);
    s.swept(null, false, NOW);
    expect(s.isDue(NOW + 365 * 24 * 3_600_000)).toBe(false);
    s.markDue();
    expect(s.isDue(NOW)).toBe(true);
    s.swept(NOW + 5_000, false, NOW);
    expect(s.isDue(NOW + 4_999)).toBe(false);
    expect(s.isDue(NOW + 5_000)).toBe(true);
    s.swept(null, true, NOW);
    expect(s.isDue(NOW + 29_999)).toBe(false);
    expect(s.isDue(NOW + 30_000)).toBe(true);
    s.swept(NOW + 1_000, true, NOW);
    expect(s.isDue(NOW + 1_000)).toBe(true);
  });
});
