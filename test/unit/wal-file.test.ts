// The WAL is held open between capture passes: a removed or replaced WAL must never go on being
// read through the old descriptor (capture would miss every commit in the new one). Real files.
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WalFile } from '../../src/sqlite/wal-file.js';

async function contents(w: WalFile): Promise<string | null> {
  const fh = await w.current();
  if (!fh) return null;
  const b = Buffer.alloc(64);
  const { bytesRead } = await fh.read(b, 0, 64, 0);
  return b.subarray(0, bytesRead).toString();
}

describe('WalFile', () => {
  let dir: string;
  let wal: string;
  let w: WalFile;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-walfile-'));
    wal = path.join(dir, 'app.db-wal');
    w = new WalFile(wal);
  });
  afterEach(async () => {
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is null while there is no WAL, and keeps one descriptor while the file stays', async () => {
    expect(await w.current()).toBeNull();
    writeFileSync(wal, 'one');
    const a = await w.current();
    expect(a).not.toBeNull();
    writeFileSync(wal, 'one two'); // same inode, rewritten
    expect(await w.current()).toBe(a);
    expect(await contents(w)).toBe('one two');
  });

  it('opens the new file when the WAL was removed and created again', async () => {
    writeFileSync(wal, 'old');
    const a = await w.current();
    unlinkSync(wal);
    expect(await w.current()).toBeNull();
    writeFileSync(wal, 'new');
    const b = await w.current();
    expect(b).not.toBe(a);
    expect(await contents(w)).toBe('new');
  });

  it('opens the new file when another was renamed over the name', async () => {
    writeFileSync(wal, 'old');
    const a = await w.current();
    writeFileSync(`${wal}.next`, 'replaced');
    renameSync(`${wal}.next`, wal);
    const b = await w.current();
    expect(b).not.toBe(a);
    expect(await contents(w)).toBe('replaced');
  });

  it('opens the new file when the WAL was removed and created again between two passes', async () => {
    // No pass sees the name missing: only the inode tells the files apart.
    writeFileSync(wal, 'old');
    await w.current();
    unlinkSync(wal);
    writeFileSync(wal, 'fresh');
    expect(await contents(w)).toBe('fresh');
  });
});
