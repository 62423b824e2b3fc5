// Shared pieces of the container tests: building the repo's images once per engine, one-shot
// `run`s, volumes, and reading the demo app's database out of a volume or a replica.
//
// Runs on Docker (.ci/docker-setup.sh brings one up, with the stand-in base images) or on Podman
// (WALSHIP_ENGINE=podman through test/containers/with-podman.sh; see engine.ts).
// Ryuk cannot be pulled here, so it is off and every test removes its own containers, volumes and
// networks in afterAll. Tests reach containers only through ports published on 127.0.0.1 or
// through `exec`/`run` on a network the test created.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GenericContainer } from 'testcontainers';
import { expect } from 'vitest';
import { engine, isPodman } from './engine.js';
import { IMAGES } from './images.js';

export { ENGINE, engine, isPodman } from './engine.js';

export { IMAGES, NODE_IMAGE, buildImages, repoRoot } from './images.js';

/**
 * GenericContainer with two settings testcontainers has no method for: ports published on
 * 127.0.0.1 only, and a read-only root filesystem; and two things Podman's Docker-compatible API
 * (4.3.1) does differently, evened out here so the tests run unchanged on both engines.
 */
export class WalshipTestContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    // Docker's default stop timeout. Podman's API stores 0 for a container created without one,
    // and every `podman stop` without -t is then an immediate SIGKILL (no graceful shutdown).
    this.createOpts.StopTimeout = 10;
  }

  override async start(): ReturnType<GenericContainer['start']> {
    if (isPodman) await this.publishImagePorts();
    return super.start();
  }

  /**
   * Podman's API lists an image's EXPOSEd ports under HostConfig.PortBindings, with no binding,
   * even when nothing publishes them; testcontainers then waits for them to be bound and times
   * out. So on Podman they are published, on 127.0.0.1 like the others (and unused).
   */
  private async publishImagePorts(): Promise<void> {
    const [image] = JSON.parse((await engine(['image', 'inspect', this.imageName.string])).stdout) as { Config?: { ExposedPorts?: Record<string, unknown> } }[];
    const bound = new Set(Object.keys(this.hostConfig.PortBindings ?? {}));
    const missing = Object.keys(image?.Config?.ExposedPorts ?? {}).filter((p) => !bound.has(p)).map((p) => Number(p.split('/')[0]));
    if (missing.length > 0) this.withLoopbackPorts(...missing);
  }

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

/**
 * Polls `fn` until it returns a value other than undefined; throws with `what` on timeout. A throw
 * from `fn` counts as "not yet" (a container still starting, a connection refused), except an
 * assertion: an `expect` failing inside the poll fails at once instead of being retried until a
 * later poll happens to pass. Poll for a condition here, and assert on what it returns afterwards.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      if (isAssertion(err)) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

/** vitest's `expect` (chai) throws AssertionError; so does node:assert. */
export function isAssertion(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AssertionError' || err.constructor.name === 'AssertionError');
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
  await engine(['volume', 'create', name]);
  return name;
}

/**
 * Removes each of `names`, ignoring those already gone. One command per name: Podman refuses the
 * whole list when one name is missing (Docker removes the others), which left containers, and the
 * volumes they held, behind.
 */
export async function removeQuietly(kind: 'container' | 'volume' | 'network', names: string[]): Promise<void> {
  await Promise.all(
    names.map((name) => engine(kind === 'container' ? ['rm', '-f', '-v', name] : [kind, 'rm', name], { allowFail: true, timeoutMs: 60_000 })),
  );
}

/** The container's stdout and stderr so far. */
export async function logsOf(id: string): Promise<string> {
  const r = await engine(['logs', id], { allowFail: true });
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
  const r = await engine(['inspect', '-f', '{{.State.ExitCode}}', id]);
  return Number(r.stdout.trim());
}

// ---- keys, config and the demo app's counter ------------------------------------------------

/** Runs the keygen one-shot (images/sftp's walship-keygen) on a keys volume. */
export async function makeKeys(keysVolume: string, sftpHost: string): Promise<void> {
  await engine(['run', '--rm', '-e', `SFTP_HOST=${sftpHost}`, '-v', `${keysVolume}:/keys`, '--entrypoint', '/usr/local/bin/walship-keygen', IMAGES.sftp]);
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
  /** The demo app's counter ("writes" in diskcache's Cache table). */
  writes: number;
  integrity: string;
  /** sha256 of the database's full logical content (Python's iterdump, the `.dump` of sqlite3). */
  digest: string;
  /** Rows per table, to say what differs when two digests do. */
  rows: Record<string, number>;
  /** wal for the primary's database, delete for a follower's (rollback journal). */
  journal_mode: string;
}

const READ_DB = [
  'import hashlib, json, sqlite3, sys',
  '# "ro": read-only with a busy timeout, as a follower\'s readers must open it',
  'con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10) if sys.argv[2:] == ["ro"] else sqlite3.connect(sys.argv[1])',
  'row = con.execute("SELECT value FROM Cache WHERE key = ?", ("writes",)).fetchone()',
  'h = hashlib.sha256()',
  'for line in con.iterdump(): h.update(line.encode() + b"\\n")',
  'tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = \'table\' ORDER BY name")]',
  'rows = {t: con.execute("SELECT count(*) FROM \\"%s\\"" % t).fetchone()[0] for t in tables}',
  'print(json.dumps({"writes": row[0] if row else 0, "integrity": con.execute("PRAGMA integrity_check").fetchone()[0], "digest": h.hexdigest(), "rows": rows, "journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0]}))',
].join('\n');

/**
 * Reads a database at /data/cache.db of a volume, with Python's sqlite3 in the app image: the
 * demo app's "writes" counter (diskcache keeps an int value in the Cache table's value column),
 * integrity_check, and a digest of its whole content, the oracle for "restored exactly": two
 * databases with equal digests hold the same schema and the same rows. Reads only (a last
 * connection closing may checkpoint the WAL, which moves pages, not content).
 */
export async function readDb(volume: string): Promise<DbState> {
  const r = await engine(['run', '--rm', '--user', '10001:10001', '-v', `${volume}:/data`, '--entrypoint', 'python3', IMAGES.app, '-c', READ_DB, '/data/cache.db']);
  return JSON.parse(r.stdout.trim()) as DbState;
}

/**
 * The same read as readDb, inside a running container that has the database (a read-only
 * front-end beside a follower: the demo app image in READ_ONLY mode), read-only with a busy
 * timeout, as a follower's readers must. `db` is the path inside the container.
 */
export async function readDbIn(container: string, db = '/data/cache.db'): Promise<DbState> {
  const r = await engine(['exec', container, 'python3', '-c', READ_DB, db, 'ro']);
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
    const r = await engine([
      'run', '--rm', ...walshipRunArgs(network, keysVolume, configFile), '-v', `${scratch}:/data`,
      IMAGES.walship, 'restore', '-config', '/etc/walship/walship.yml', '/data/cache.db',
    ], { timeoutMs: 60_000 });
    const state = await readDb(scratch);
    return { ...state, log: r.stdout + r.stderr };
  } finally {
    await removeQuietly('volume', [scratch]);
  }
}

/**
 * Freezes the app (pause), reads what it has committed, polls restores from the replica until one
 * has reached the same counter, and lets the app go on. Then, once, the assertions: the restored
 * database is exactly the source (same content digest, the oracle), and no restore along the way
 * ran ahead of the source or went backwards. Returns the counter.
 */
export async function expectReplicaCaughtUp(opts: { appId: string; dataVolume: string; restore: () => Promise<DbState>; timeoutMs: number }): Promise<number> {
  await engine(['pause', opts.appId]);
  let source: DbState;
  let restored: DbState;
  const seen: number[] = [];
  try {
    source = await readDb(opts.dataVolume);
    restored = await waitFor(
      `the replica to reach writes=${source.writes}`,
      async () => {
        const r = await opts.restore();
        seen.push(r.writes);
        return r.writes >= source.writes ? r : undefined;
      },
      opts.timeoutMs,
      1000,
    );
  } finally {
    await engine(['unpause', opts.appId]);
  }
  expect(source.integrity).toBe('ok');
  expect(restored.integrity).toBe('ok');
  expect(seen, 'restores along the way: never ahead of the source, never backwards').toEqual([...seen].sort((a, b) => a - b));
  expect({ writes: restored.writes, rows: restored.rows, digest: restored.digest }).toEqual({ writes: source.writes, rows: source.rows, digest: source.digest });
  return source.writes;
}

/** Reads the app's /stats through its port on 127.0.0.1. */
export async function appStats(port: number): Promise<{ writes: number; started_with: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/stats`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/stats answered ${res.status}`);
  return (await res.json()) as { writes: number; started_with: number };
}
