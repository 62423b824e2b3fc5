// Small helpers shared by the benchmark phases: timing, bounded waits, statistics, processes.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const now = () => performance.timeOrigin + performance.now();

/**
 * Children the bench starts are reported here, so a watchdog (lib/watchdog.mjs) can end them if the
 * bench dies without cleaning up. run.mjs sets `track`.
 */
export const children = { track: (_child) => undefined };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `stepMs` until it is truthy or `timeoutMs` passed; returns its last value. */
export async function waitFor(cond, timeoutMs, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    const v = await cond();
    if (v || Date.now() >= end || i > 1_000_000) return v;
    await sleep(stepMs);
  }
}

/** Nearest-rank percentile of an unsorted list (p in 0..100); NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank];
}

export function summarize(values) {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : Number.NaN,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN,
  };
}

export const round = (x, digits = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null);

/**
 * Runs a command to completion with a time limit; resolves { code, signal, stdout, stderr, ms }.
 * A command past its limit is killed (SIGKILL) and reported with timedOut: true.
 */
export function runCmd(cmd, args, { timeoutMs = 600_000, env, input, cwd } = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    const child = spawn(cmd, args, { env: env ?? process.env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    children.track(child);
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
    child.stdin.end(input ?? '');
  });
}

/** Runs the writer process (lib/writer.mjs) and returns its result JSON. */
export async function runWriter(opts, timeoutMs) {
  // Outside the database's directory, so writing it is no event there.
  const out = path.join(path.dirname(path.dirname(opts.db)), `writer-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const r = await runCmd(process.execPath, [new URL('./writer.mjs', import.meta.url).pathname, JSON.stringify({ ...opts, out })], { timeoutMs });
  if (r.code !== 0) throw new Error(`writer ${opts.mode} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.slice(-2000)}`);
  const result = JSON.parse(await fsp.readFile(out, 'utf8'));
  await fsp.rm(out, { force: true });
  return result;
}

/** kB figures from /proc/PID/status: VmRSS (now) and VmHWM (peak so far). */
export async function memOf(pid) {
  try {
    const text = await fsp.readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** Bytes under a directory (recursive), and the file count. */
export async function dirUsage(dir) {
  let bytes = 0;
  let files = 0;
  const walk = async (d) => {
    let entries;
    try {
      entries = await fsp.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await fsp.stat(p).catch(() => null);
        if (st) {
          bytes += st.size;
          files++;
        }
      }
    }
  };
  await walk(dir);
  return { bytes, files };
}

export const MB = 1024 * 1024;

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
