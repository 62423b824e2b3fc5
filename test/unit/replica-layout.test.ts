import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeFile, isTempFileName, levelDir, LEVELS, ltxFileName, ltxFilePath, parseLtxFileName, RESTORE_LEVELS, tempFileName } from '../../src/replica/layout.js';

describe('LTX file names', () => {
  it('are two 16-digit lowercase hex TXIDs', () => {
    expect(ltxFileName(1, 0x1a2b)).toBe('0000000000000001-0000000000001a2b.ltx');
    expect(parseLtxFileName('0000000000000001-0000000000001a2b.ltx')).toEqual({ minTXID: 1, maxTXID: 0x1a2b });
  });

  it.each([
    '0000000000000001-0000000000001A2B.ltx',
    '0000000000000001-0000000000001a2b.ltx.tmp',
    '.0000000000000001-0000000000001a2b.ltx',
    '1-2.ltx',
    '0000000000000001_0000000000000002.ltx',
    '00000000000000001-0000000000000002.ltx',
  ])('ignores %s', (name) => {
    expect(parseLtxFileName(name)).toBeNull();
  });

  it('ignores TXIDs too large for a JavaScript number', () => {
    expect(parseLtxFileName('ffffffffffffffff-ffffffffffffffff.ltx')).toBeNull();
  });
});

describe('replica layout', () => {
  it('lays out directories as Litestream v0.5 does on files and SFTP', () => {
    expect(levelDir('/backups/cache', 0)).toBe('/backups/cache/ltx/0');
    expect(ltxFilePath('/backups/cache', { level: 9, minTXID: 1, maxTXID: 0x20 })).toBe('/backups/cache/ltx/9/0000000000000001-0000000000000020.ltx');
    expect(describeFile({ level: 1, minTXID: 2, maxTXID: 3 })).toBe('ltx/1/0000000000000002-0000000000000003.ltx');
  });

  it('lays out keys as Litestream v0.5 does on S3: the level as four hex digits, no ltx/', () => {
    expect(ltxFilePath('t.db', { level: 0, minTXID: 1, maxTXID: 1 }, 's3')).toBe('t.db/0000/0000000000000001-0000000000000001.ltx');
    expect(levelDir('a/b', 9, 's3')).toBe('a/b/0009');
    expect(describeFile({ level: 3, minTXID: 1, maxTXID: 2 }, 's3')).toBe('0003/0000000000000001-0000000000000002.ltx');
  });

  it('joins a file path as path.join would, whatever the root looks like, asked once or again', () => {
    const id = { level: 2, minTXID: 7, maxTXID: 9 };
    const name = '0000000000000007-0000000000000009.ltx';
    for (const scheme of ['dir', 's3'] as const) {
      const level = scheme === 's3' ? '0002' : 'ltx/2';
      for (const root of ['/', '', '.', 'p/', '/a//b/', './x/../y', 'bucket-prefix']) {
        for (let i = 0; i < 2; i++) {
          expect(levelDir(root, 2, scheme)).toBe(posix.join(root, level));
          expect(ltxFilePath(root, id, scheme)).toBe(posix.join(root, level, name));
        }
      }
    }
    // The same root under both schemes, and two roots, never share an entry.
    expect(levelDir('r', 0)).toBe('r/ltx/0');
    expect(levelDir('r', 0, 's3')).toBe('r/0000');
    expect(levelDir('r2', 0)).toBe('r2/ltx/0');
  });

  it('lists the levels once, in both orders', () => {
    expect([...LEVELS]).toEqual([0, 1, 2, 3, 9]);
    expect([...RESTORE_LEVELS]).toEqual([...LEVELS].reverse());
  });

  it('recognises temporary upload names and nothing else', () => {
    const final = ltxFileName(1, 2);
    expect(isTempFileName(tempFileName(final, 'a1b2c3d4'))).toBe(true);
    expect(isTempFileName(final)).toBe(false);
    expect(isTempFileName(`${final}.tmp`)).toBe(false);
    expect(isTempFileName(`notes.${'a'.repeat(8)}.tmp`)).toBe(false);
    expect(parseLtxFileName(tempFileName(final, 'a1b2c3d4'))).toBeNull();
  });
});
