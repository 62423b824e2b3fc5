// Building the repo's three images (and the S3 server stand-in) once per engine (vitest globalSetup: global-setup.ts), so test
// files never build in parallel or under a hook's timeout.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINE, dockerItself, isPodman, podman } from './engine.js';
import { VERSITYGW_IMAGE, removeContext, versitygwStandinContext } from './s3-standin.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** The Node base image for the walship image: CI has only the node:20 stand-in. */
export const NODE_IMAGE = process.env.NODE_IMAGE ?? 'node:20-bookworm-slim';

export const IMAGES = {
  walship: 'walship:test',
  sftp: 'walship-sftp:test',
  app: 'walship-demo-app:test',
} as const;

// ---- images ---------------------------------------------------------------------------------

const BUILDS: { name: keyof typeof IMAGES; context: string; args: Record<string, string> }[] = [
  { name: 'walship', context: repoRoot, args: { NODE_IMAGE } },
  { name: 'sftp', context: path.join(repoRoot, 'images', 'sftp'), args: {} },
  { name: 'app', context: path.join(repoRoot, 'images', 'demo-app'), args: {} },
];

/**
 * Builds the three images from the repo's Dockerfiles, once per machine and engine at a time:
 * test files run in parallel workers, so a lock file keeps a second build waiting (it then hits
 * the layer cache). On Podman, when a Docker engine answers, the images are built by Docker (its
 * layer cache is warm from the Docker run) and copied with `docker save | podman load`, only when
 * Podman's image IDs differ; that is faster than building the native modules again. Without
 * Docker, Podman builds them itself. Returns how long each step took, in seconds.
 */
export async function buildImages(): Promise<Record<string, number>> {
  const lock = path.join(os.tmpdir(), `walship-container-tests.${ENGINE}.build.lock`);
  await acquireLock(lock, 15 * 60_000);
  try {
    const times: Record<string, number> = {};
    const timed = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
      const t = Date.now();
      await fn();
      times[name] = Math.round((Date.now() - t) / 100) / 10;
    };
    const haveDocker = !isPodman || (await dockerItself(['info'], { allowFail: true, timeoutMs: 20_000 })).code === 0;
    const builder = haveDocker ? dockerItself : podman;
    for (const b of BUILDS) {
      const args = Object.entries(b.args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
      await timed(b.name, () => builder(['build', '-q', '-t', IMAGES[b.name], ...args, b.context], { timeoutMs: 15 * 60_000 }));
    }
    // compose.yaml's S3 server image, when missing: a stand-in (s3-standin.ts), built once.
    if ((await builder(['image', 'inspect', VERSITYGW_IMAGE], { allowFail: true })).code !== 0) {
      const context = versitygwStandinContext(repoRoot);
      try {
        await timed('versitygw stand-in', () => builder(['build', '-q', '-t', VERSITYGW_IMAGE, context], { timeoutMs: 10 * 60_000 }));
      } finally {
        removeContext(context);
      }
    }
    if (isPodman && haveDocker) await timed('podman load', () => loadIntoPodman([...Object.values(IMAGES), VERSITYGW_IMAGE]));
    console.log(`image builds on ${ENGINE}${isPodman && haveDocker ? ' (built by Docker)' : ''} (s, ${NODE_IMAGE}): ${JSON.stringify(times)}`);
    return times;
  } finally {
    rmSync(lock, { force: true });
  }
}

/** `docker save | podman load` for the images whose IDs differ between the two stores. */
async function loadIntoPodman(tags: string[]): Promise<void> {
  const stale: string[] = [];
  for (const tag of tags) {
    const d = (await dockerItself(['image', 'inspect', '-f', '{{.Id}}', tag])).stdout.trim();
    const p = (await podman(['image', 'inspect', '-f', '{{.Id}}', tag], { allowFail: true })).stdout.trim();
    if (d.replace(/^sha256:/, '') !== p.replace(/^sha256:/, '')) stale.push(tag);
  }
  if (stale.length === 0) return;
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  await new Promise<void>((resolve, reject) => {
    const save = spawn('docker', ['save', ...stale], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn('podman', ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    save.stderr.on('data', (b: Buffer) => (err += b.toString()));
    load.stderr.on('data', (b: Buffer) => (err += b.toString()));
    save.stdout.pipe(load.stdin);
    let pending = 2;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0) reject(new Error(`docker save ${stale.join(' ')} | podman load: ${what} exited ${code}: ${err.trim()}`));
      else if (--pending === 0) resolve();
    };
    save.on('close', done('docker save'));
    load.on('close', done('podman load'));
  });
}

/** A lock file holding the holder's pid; stale when that process is gone or it is too old. */
async function acquireLock(file: string, staleMs: number): Promise<void> {
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch {
      try {
        const holder = Number(readFileSync(file, 'utf8'));
        if (Date.now() - statSync(file).mtimeMs > staleMs || (holder > 0 && !alive(holder))) rmSync(file, { force: true });
      } catch {
        // gone in between: try again
      }
      await sleep(500);
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}


function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
