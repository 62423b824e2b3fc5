// Timing, statistics and one-shot commands for the bench.
import { spawn } from 'node:child_process';
import { track } from '../../test/kit/procs.mjs';

export const MB = 1024 * 1024;

/** Epoch milliseconds with sub-millisecond precision; the writer and the watchers use the same clock. */
export const now = () => performance.timeOrigin + performance.now();

/** Nearest-rank percentile of an unsorted list (p in 0..100); NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank];
}

/** Median of the finite values; null when there are none. */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

export function summarize(values) {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? values.reduce((a, b) => Math.max(a, b), -Infinity) : Number.NaN,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN,
  };
}

export const round = (x, digits = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

/** a / b rounded, or null when either is missing or b is 0. */
export const ratio = (a, b, digits = 3) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? round(a / b, digits) : null);

/**
 * Runs a command to completion with a time limit; resolves { code, signal, stdout, stderr, ms, timedOut }.
 * A command past its limit is killed (SIGKILL).
 */
export function runCmd(cmd, args, { timeoutMs = 600_000, env, input, cwd } = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    const child = track(spawn(cmd, args, { env: env ?? process.env, cwd, stdio: ['pipe', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c) => {
      if (stdout.length < 4_000_000) stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c) => {
      if (stderr.length < 4_000_000) stderr += c;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      stderr += String(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: now() - t0, timedOut });
    });
    // A command that exits without reading its input (it failed early) breaks the pipe: its exit
    // status and stderr say why, not an EPIPE that would end the whole bench.
    child.stdin.on('error', (err) => {
      stderr += `\n(stdin: ${err.message})`;
    });
    child.stdin.end(input ?? '');
  });
}
