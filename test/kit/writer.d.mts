import type { ChildProcess } from 'node:child_process';

export interface WriterOptions {
  db: string;
  from: number;
  to: number;
  payload: 'small' | 'mixed';
  autocheckpoint?: number | null;
  truncateEvery?: number;
  vacuumAt?: number;
  reopenEvery?: number;
  pauseAfter?: number[];
  pauseMs?: number;
  delayMs?: number;
  /** Once this file exists, the writer stops before its next transaction and exits 0. */
  stopFile?: string;
}

export type WriterKind = 'node' | 'python';

export interface Commit {
  n: number;
  t: number;
}

export interface RunningWriter {
  child: ChildProcess;
  commits: Commit[];
  done: (timeoutMs?: number) => Promise<Commit[]>;
}

export function startWriter(kind: WriterKind, opts: WriterOptions): RunningWriter;
export function runWriter(kind: WriterKind, opts: WriterOptions, timeoutMs?: number): Promise<Commit[]>;

export interface LoadWriterOptions {
  db: string;
  mode: 'init' | 'rate' | 'bulk';
  from?: number;
  warmup?: number;
  rate?: number;
  durationMs?: number;
  bytes?: number;
  txBytes?: number;
  finalMarker?: number;
}

export interface LoadWriterResult {
  mode: string;
  n: number[];
  commitAt: number[];
  latencyMs: number[];
  startedAt: number;
  endedAt: number;
  bytes: number;
  lastN: number;
  finalMarkerAt?: number;
}

export function runLoadWriter(opts: LoadWriterOptions, timeoutMs: number): Promise<LoadWriterResult>;
