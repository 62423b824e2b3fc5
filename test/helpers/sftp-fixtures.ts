// Small fixtures shared by the SFTP integration tests: local LTX-named files, a log capture, bounded
// polling and the remote replica directory as the test (on the same machine as sshd) sees it.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { LtxFileInfo } from '../../src/replica/client.js';

export async function tempDir(prefix: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `walship-${prefix}-`));
  // sshd may serve it to an unprivileged user in some tests.
  await fsp.chmod(dir, 0o755);
  return dir;
}

/** A local file of random bytes and the LtxFileInfo that describes it. */
export async function ltxFixture(
  dir: string,
  level: number,
  minTXID: number,
  maxTXID: number,
  size: number,
  createdAt = new Date('2024-05-06T07:08:09Z'),
): Promise<{ info: LtxFileInfo; localPath: string; data: Buffer }> {
  const data = randomBytes(size);
  const localPath = path.join(dir, `local-${level}-${minTXID}-${maxTXID}-${size}.bin`);
  await fsp.writeFile(localPath, data);
  return { info: { level, minTXID, maxTXID, size, createdAt }, localPath, data };
}

export interface CapturedLog {
  logger: Logger;
  lines: string[];
  text(): string;
}

export function captureLogger(): CapturedLog {
  const lines: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  return { logger, lines, text: () => lines.join('') };
}

/** Polls until `cond` holds; bounded in time and in rounds (the shared kit's). */
export { waitUntil } from '../kit/wait.mjs';

/** Names in a remote level directory, read directly from disk (sshd runs on this machine). */
export async function remoteNames(root: string, level: number): Promise<string[]> {
  try {
    return (await fsp.readdir(path.join(root, 'ltx', String(level)))).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Fails with the step's name if `p` does not settle in time, so a hang says where it hung. */
export async function within<T>(ms: number, step: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`step "${step}" did not finish within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the operation to fail, and it succeeded');
}
