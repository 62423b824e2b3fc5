// Real processes for integration tests: application writers (from the shared kit, test/kit/) and the walship CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from '../kit/procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

// Children are tracked by the shared kit (killed when the test file's worker exits); the writers are its too.
export { track } from '../kit/procs.mjs';
export { runWriter, startWriter } from '../kit/writer.mjs';
export type { Commit, WriterKind, WriterOptions } from '../kit/writer.mjs';
export const repoRoot = path.resolve(here, '..', '..');
export const walshipBin = path.join(repoRoot, 'dist', 'cli', 'main.js');

export interface WalshipProcess {
  child: ChildProcess;
  logs: () => string;
  /** Resolves when a JSON log line with this event appears. */
  waitForEvent: (event: string, timeoutMs?: number) => Promise<Record<string, unknown>>;
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>;
}

export function startWalship(args: string[], env: NodeJS.ProcessEnv = {}): WalshipProcess {
  const child = track(spawn(process.execPath, [walshipBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  let out = '';
  const listeners: Array<() => void> = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const events = (): Array<Record<string, unknown>> =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    child,
    logs: () => out,
    waitForEvent: (event, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = events().find((e) => e.event === event);
          if (hit) {
            resolve(hit);
            return true;
          }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`no "${event}" log within ${timeoutMs} ms; logs:\n${out}`)), timeoutMs);
        const l = (): void => {
          if (check()) {
            clearTimeout(timer);
            listeners.splice(listeners.indexOf(l), 1);
          }
        };
        listeners.push(l);
      }),
    stop: async (signal = 'SIGTERM', timeoutMs = 60_000) => {
      // A signal sent before Node has even loaded the program would kill it outright; a real
      // orchestrator does not stop a container within its first few milliseconds either.
      if (signal !== 'SIGKILL' && !out.includes('"event":"started"')) {
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000)), new Promise<void>((r) => listeners.push(() => out.includes('"event":"started"') && r()))]);
      }
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      let forced = false;
      const timer = setTimeout(() => {
        forced = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const [code] = await exited;
      clearTimeout(timer);
      // A hung shutdown is a failure worth its logs: they are the only trace of where it hung.
      if (forced) throw new Error(`walship did not exit within ${timeoutMs} ms of ${signal}; killed. Last logs:\n${out.split('\n').slice(-80).join('\n')}`);
      return code;
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a walship command to completion. */
export async function runWalship(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<CliResult> {
  const child = track(spawn(process.execPath, [walshipBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
