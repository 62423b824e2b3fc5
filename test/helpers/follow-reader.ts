// Runs test/helpers/follow-reader.py: a separate reader process polling a follower's database.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ReaderSummary {
  reads: number;
  ks: number[];
  violations: string[];
  errors: number;
  /** Reads refused because a hot journal was there (a follower killed mid-apply). */
  hotJournal: number;
}

export interface ReaderOptions {
  db: string;
  stopFile: string;
  payload: 'small' | 'mixed';
  minReads?: number;
  maxSeconds?: number;
  pauseMs?: number;
}

export function startReader(opts: ReaderOptions): { stop: () => Promise<ReaderSummary> } {
  const child = track(spawn('python3', [path.join(here, 'follow-reader.py'), JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  return {
    stop: async () => {
      writeFileSync(opts.stopFile, '');
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      const [code] = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`reader exited ${code}: ${err}`);
      return JSON.parse(out.trim()) as ReaderSummary;
    },
  };
}
