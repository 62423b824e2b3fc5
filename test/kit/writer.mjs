// The application writers, each a separate process with its own SQLite connection:
// - the test writers (test/helpers/writer-node.mjs with better-sqlite3, test/helpers/writer.py with
//   Python's sqlite3): numbered transactions, one JSON line {"n","t"} per commit on stdout;
// - the bench's load writer (load-writer.mjs): rate, bulk and init modes, with commit times and
//   latencies written as one result JSON when it is done.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const helpers = path.join(here, '..', 'helpers');

/** Starts a test writer ('node' or 'python'); `done` waits for it and throws on a non-zero exit. */
export function startWriter(kind, opts) {
  const args = kind === 'node' ? [path.join(helpers, 'writer-node.mjs'), JSON.stringify(opts)] : [path.join(helpers, 'writer.py'), JSON.stringify(opts)];
  const child = track(spawn(kind === 'node' ? process.execPath : 'python3', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const commits = [];
  let buf = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      commits.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  return {
    child,
    commits,
    done: async (timeoutMs = 120_000) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const [code] = await exited;
      clearTimeout(timer);
      if (code !== 0) throw new Error(`${kind} writer exited ${code}: ${stderr.trim()}`);
      return commits;
    },
  };
}

/** Runs a test writer to completion and returns its commits (with the time each COMMIT returned). */
export async function runWriter(kind, opts, timeoutMs = 120_000) {
  return startWriter(kind, opts).done(timeoutMs);
}

/**
 * Runs the load writer to completion (SIGKILL past `timeoutMs`) and returns its result. The result
 * file goes beside the database's directory, so writing it is no event where the database lives.
 */
export async function runLoadWriter(opts, timeoutMs) {
  const out = path.join(path.dirname(path.dirname(opts.db)), `writer-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const child = track(spawn(process.execPath, [path.join(here, 'load-writer.mjs'), JSON.stringify({ ...opts, out })], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 100_000) stderr += d.toString();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  if (code !== 0) throw new Error(`load writer (${opts.mode}) failed (${timedOut ? 'timed out' : `exit ${code}`}): ${stderr.slice(-2000)}`);
  const result = JSON.parse(await fsp.readFile(out, 'utf8'));
  await fsp.rm(out, { force: true });
  return result;
}
