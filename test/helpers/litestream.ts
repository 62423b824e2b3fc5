// The real Litestream binary, built by scripts/setup-debian.sh into .tools/bin, for tests that hand
// a replica from one tool to the other.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, track } from './processes.js';

export const LITESTREAM_VERSION = 'v0.5.18';

/** The binary's path; a clear error (not a skip) when setup has not built it. */
export function litestreamBin(): string {
  const bin = process.env.WALSHIP_LITESTREAM_BIN ?? path.join(repoRoot, '.tools', 'bin', 'litestream');
  if (!existsSync(bin)) {
    throw new Error(`Litestream ${LITESTREAM_VERSION} not found at ${bin}: run scripts/setup-debian.sh (it builds it with Go >= 1.26), or set WALSHIP_LITESTREAM_BIN`);
  }
  return bin;
}

export interface LitestreamResult {
  code: number | null;
  output: string;
}

export async function runLitestream(args: string[], timeoutMs = 60_000): Promise<LitestreamResult> {
  const child = track(spawn(litestreamBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}

export interface LitestreamProcess {
  child: ChildProcess;
  logs: () => string;
  /** SIGTERM (Litestream syncs before it exits); SIGKILL after `timeoutMs`. Resolves to the exit code. */
  stop: (timeoutMs?: number) => Promise<number | null>;
}

export function startLitestream(args: string[]): LitestreamProcess {
  const child = track(spawn(litestreamBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  return {
    child,
    logs: () => out,
    stop: async (timeoutMs = 30_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Names and sizes of every file under the replica's ltx/ tree. */
function replicaState(root: string): string {
  const dir = path.join(root, 'ltx');
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .sort()
    .flatMap((level) => readdirSync(path.join(dir, level)).sort().map((n) => `${level}/${n}:${statSync(path.join(dir, level, n)).size}`))
    .join(',');
}

/** Waits until the replica holds something and has not changed for `quietMs` (bounded by `maxMs`). */
export async function replicaSettled(root: string, quietMs = 2_000, maxMs = 60_000): Promise<void> {
  const started = Date.now();
  let last = replicaState(root);
  let since = Date.now();
  while (Date.now() - started < maxMs) {
    await new Promise((r) => setTimeout(r, 200));
    const now = replicaState(root);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (now !== '' && Date.now() - since >= quietMs) {
      return;
    }
  }
  throw new Error(`replica ${root} did not settle within ${maxMs} ms (last state: ${last || 'empty'})`);
}
