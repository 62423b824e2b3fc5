import type { ChildProcess } from 'node:child_process';

export function parentOf(pid: number): number | null;
export function isGone(pid: number): boolean;
export function descendants(root: number): number[];
export function signalAll(pids: number[], signal: NodeJS.Signals): void;
export function stopUntilResumed(pids: number[]): () => void;
export function cpuSecondsOfTree(root: number): number | null;
export function memOf(pid: number): { rssKb: number; hwmKb: number } | null;
export function track<C extends ChildProcess>(child: C): C;
export function onTrack(hook: (child: ChildProcess) => void): void;
export function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void;
