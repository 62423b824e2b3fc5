// Small tmpfs mounts for tests that need a full or read-only filesystem. Needs root (CAP_SYS_ADMIN);
// without it the test fails with a message saying so.
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TmpfsMount {
  dir: string;
  readOnly(): void;
  readWrite(): void;
  cleanup(): Promise<void>;
}

export async function mountTmpfs(sizeBytes: number): Promise<TmpfsMount> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'walship-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    await fsp.rmdir(dir);
    throw new Error(`this test mounts a ${sizeBytes}-byte tmpfs and needs root (CAP_SYS_ADMIN): ${(err as Error).message}`);
  }
  const remount = (mode: 'ro' | 'rw'): void => void execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'pipe' });
  return {
    dir,
    readOnly: () => remount('ro'),
    readWrite: () => remount('rw'),
    async cleanup() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      await fsp.rmdir(dir);
    },
  };
}
