// Shared pieces of the container tests: building the repo's images once, one-shot `docker run`s,
// volumes, and reading the demo app's counter out of a database or a replica.
//
// Needs a Docker engine (.ci/docker-setup.sh brings one up, with the stand-in base images).
// Ryuk cannot be pulled here, so it is off and every test removes its own containers, volumes and
// networks in afterAll. Tests reach containers only through ports published on 127.0.0.1 or
// through `docker exec`/`docker run` on a network the test created.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GenericContainer } from 'testcontainers';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** The Node base image for the walship image: CI has only the node:20 stand-in. */
export const NODE_IMAGE = process.env.NODE_IMAGE ?? 'node:20-bookworm-slim';

export const IMAGES = {
  walship: 'walship:test',
  sftp: 'walship-sftp:test',
  app: 'walship-demo-app:test',
} as const;

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI; rejects on a non-zero exit unless `allowFail`. */
export function docker(args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const errCode = (err as { code?: unknown } | null)?.code;
      const code = err ? (typeof errCode === 'number' ? errCode : 1) : 0;
      const result = { code, stdout: String(stdout), stderr: String(stderr) };
      if (code !== 0 && !opts.allowFail) {
        reject(new Error(`docker ${args.join(' ')} exited ${code}: ${result.stderr.trim() || result.stdout.trim()}`));
      } else {
        resolve(result);
      }
    });
  });
}

// ---- images ---------------------------------------------------------------------------------

/**
 * Builds the three images from the repo's Dockerfiles, once per machine at a time: test files run
 * in parallel workers, so a lock file keeps a second build waiting (it then hits the layer cache).
 * Returns how long each build took, in seconds.
 */
export async function buildImages(): Promise<Record<string, number>> {
  const lock = path.join(os.tmpdir(), 'walship-container-tests.build.lock');
  await acquireLock(lock, 15 * 60_000);
  try {
    const times: Record<string, number> = {};
    const build = async (name: string, context: string, tag: string, args: Record<string, string> = {}): Promise<void> => {
      const t = Date.now();
      await GenericContainer.fromDockerfile(context).withBuildArgs(args).build(tag, { deleteOnExit: false });
      times[name] = Math.round((Date.now() - t) / 100) / 10;
    };
    await build('walship', repoRoot, IMAGES.walship, { NODE_IMAGE });
    await build('sftp', path.join(repoRoot, 'images', 'sftp'), IMAGES.sftp);
    await build('app', path.join(repoRoot, 'images', 'demo-app'), IMAGES.app);
    console.log(`image builds (s, ${NODE_IMAGE}): ${JSON.stringify(times)}`);
    return times;
  } finally {
    rmSync(lock, { force: true });
  }
}

async function acquireLock(file: string, staleMs: number): Promise<void> {
  for (;;) {
    try {
      closeSync(openSync(file, 'wx'));
      return;
    } catch {
      try {
        if (Date.now() - statSync(file).mtimeMs > staleMs) rmSync(file, { force: true });
      } catch {
        // gone in between: try again
      }
      await sleep(500);
    }
  }
}

/**
 * GenericContainer with two settings testcontainers has no method for: ports published on
 * 127.0.0.1 only, and a read-only root filesystem.
 */
export class WalshipTestContainer extends GenericContainer {
  withLoopbackPorts(...ports: number[]): this {
    this.withExposedPorts(...ports);
    for (const key of Object.keys(this.hostConfig.PortBindings ?? {})) {
      this.hostConfig.PortBindings![key] = [{ HostIp: '127.0.0.1', HostPort: '0' }];
    }
    return this;
  }

  withReadOnlyRootFilesystem(): this {
    this.hostConfig.ReadonlyRootfs = true;
    return this;
  }
}

// ---- small helpers --------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a value other than undefined; throws with `what` on timeout. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

/** A unique lowercase name for this run's networks, volumes and projects. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}`;
}

/** A directory on the host for config files that containers bind-mount (readable by uid 10001). */
export function hostDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function writeHostFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  chmodSync(file, 0o644);
  return file;
}

export async function createVolume(name: string): Promise<string> {
  await docker(['volume', 'create', name]);
  return name;
}

export async function removeQuietly(kind: 'container' | 'volume' | 'network', names: string[]): Promise<void> {
  if (names.length === 0) return;
  const args = kind === 'container' ? ['rm', '-f', '-v', ...names] : [kind, 'rm', ...names];
  await docker(args, { allowFail: true, timeoutMs: 60_000 });
}

/** The container's stdout and stderr so far. */
export async function logsOf(id: string): Promise<string> {
  const r = await docker(['logs', id], { allowFail: true });
  return r.stdout + r.stderr;
}

/** The JSON log lines (walship's pino lines, the demo app's lines) of a container. */
export async function jsonLogs(id: string): Promise<Record<string, unknown>[]> {
  return parseJsonLines(await logsOf(id));
}

export function parseJsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      out.push(JSON.parse(t) as Record<string, unknown>);
    } catch {
      // not a JSON line
    }
  }
  return out;
}

export async function exitCodeOf(id: string): Promise<number> {
  const r = await docker(['inspect', '-f', '{{.State.ExitCode}}', id]);
  return Number(r.stdout.trim());
}

// ---- keys, config and the demo app's counter ------------------------------------------------

/** Runs the keygen one-shot (images/sftp's walship-keygen) on a keys volume. */
export async function makeKeys(keysVolume: string, sftpHost: string): Promise<void> {
  await docker(['run', '--rm', '-e', `SFTP_HOST=${sftpHost}`, '-v', `${keysVolume}:/keys`, '--entrypoint', '/usr/local/bin/walship-keygen', IMAGES.sftp]);
}

/** A walship config replicating /data/cache.db to `replicaPath` on the sftp host. */
export function walshipConfig(opts: { sftpHost: string; replicaPath: string; addr?: string }): string {
  return [
    ...(opts.addr ? [`addr: "${opts.addr}"`] : []),
    'dbs:',
    '  - path: /data/cache.db',
    '    replicas:',
    '      - name: sftp',
    `        url: sftp://walship@${opts.sftpHost}:22${opts.replicaPath}`,
    '        key-path: /keys/id_ed25519',
    '        known-hosts-path: /keys/known_hosts',
    '        sync-interval: 1s',
    '',
  ].join('\n');
}

export interface DbState {
  writes: number;
  integrity: string;
}

const READ_DB = [
  'import json, sqlite3, sys',
  'con = sqlite3.connect(sys.argv[1])',
  'row = con.execute("SELECT value FROM Cache WHERE key = ?", ("writes",)).fetchone()',
  'print(json.dumps({"writes": row[0] if row else 0, "integrity": con.execute("PRAGMA integrity_check").fetchone()[0]}))',
].join('\n');

/**
 * Reads the demo app's "writes" counter and runs integrity_check, on the database at
 * /data/cache.db of a volume, with Python's sqlite3 in the app image (diskcache keeps an int
 * value in the Cache table's value column). Reading never writes.
 */
export async function readDb(volume: string): Promise<DbState> {
  const r = await docker(['run', '--rm', '--user', '10001:10001', '-v', `${volume}:/data`, '--entrypoint', 'python3', IMAGES.app, '-c', READ_DB, '/data/cache.db']);
  return JSON.parse(r.stdout.trim()) as DbState;
}

/** Options shared by the one-shot walship containers: network, keys, config, read-only root. */
export function walshipRunArgs(network: string, keysVolume: string, configFile: string): string[] {
  return ['--network', network, '--read-only', '--tmpfs', '/tmp', '-v', `${keysVolume}:/keys:ro`, '-v', `${configFile}:/etc/walship/walship.yml:ro`];
}

/**
 * Restores the latest state from the replica named in `configFile` into a new scratch volume (at
 * /data, as the init container does) and reads it. The scratch volume is removed again.
 */
export async function restoreFromReplica(network: string, keysVolume: string, configFile: string): Promise<DbState & { log: string }> {
  const scratch = await createVolume(uniqueName('walship-check'));
  try {
    const r = await docker([
      'run', '--rm', ...walshipRunArgs(network, keysVolume, configFile), '-v', `${scratch}:/data`,
      IMAGES.walship, 'restore', '-config', '/etc/walship/walship.yml', '/data/cache.db',
    ], { timeoutMs: 60_000 });
    const state = await readDb(scratch);
    return { ...state, log: r.stdout + r.stderr };
  } finally {
    await removeQuietly('volume', [scratch]);
  }
}

/** Reads the app's /stats through its port on 127.0.0.1. */
export async function appStats(port: number): Promise<{ writes: number; started_with: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/stats answered ${res.status}`);
  return (await res.json()) as { writes: number; started_with: number };
}
