// compose.yaml end to end with the standalone docker-compose (1.29 here), as a user runs it from a
// fresh clone: keygen -> sftp -> restore -> app + walship, with no manual step and host key
// verification on. Then the disaster drill: stop app and sidecar, delete the data volume, bring
// the project up again, and the app starts with exactly the data it had.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerComposeEnvironment, Wait, type StartedDockerComposeEnvironment } from 'testcontainers';
import { IMAGES, NODE_IMAGE, appStats, buildImages, engine, exitCodeOf, jsonLogs, parseJsonLines, readDb, repoRoot, uniqueName, waitFor } from './docker.js';
import { freePort } from '../helpers/ports.js';


describe('compose.yaml with docker-compose standalone', () => {
  const project = uniqueName('walshipcompose').replace(/-/g, '');
  let appPort: number;
  let env: StartedDockerComposeEnvironment | undefined;
  let composeEnv: NodeJS.ProcessEnv;

  function compose(args: string[], timeoutMs = 180_000): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
      execFile('docker-compose', ['-p', project, '-f', 'compose.yaml', ...args], { cwd: repoRoot, env: composeEnv, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ code: err ? (typeof code === 'number' ? code : 1) : 0, out: String(stdout) + String(stderr) });
      });
    });
  }

  /** The id of a service's container (the one-shots included, once they have run). */
  async function containerOf(service: string): Promise<string> {
    const r = await compose(['ps', '-q', service]);
    const id = r.out.trim().split('\n')[0];
    if (!id) throw new Error(`no container for service ${service}`);
    return id;
  }

  beforeAll(async () => {
    // The images compose.yaml names are the ones the other container tests build from the same
    // Dockerfiles: tag them, so `up` need not build again. (docker-compose 1.x sends its build
    // context differently from the docker CLI, which misses the layer cache and would rebuild the
    // native modules, about 100 s.) WALSHIP_COMPOSE_BUILD=1 makes compose build them itself.
    await buildImages();
    const composeBuild = process.env.WALSHIP_COMPOSE_BUILD === '1';
    if (!composeBuild) {
      for (const [built, named] of [[IMAGES.walship, 'walship:local'], [IMAGES.sftp, 'walship-sftp:local'], [IMAGES.app, 'walship-demo-app:local']] as const) {
        await engine(['tag', built, named]);
      }
    }
    appPort = await freePort();
    composeEnv = { ...process.env, NODE_IMAGE, APP_PORT: String(appPort) };
    const started = Date.now();
    const appStarted = Wait.forLogMessage(/"event": "started"/);
    const walshipStarted = Wait.forLogMessage(/"event":"started"/);
    const environment = new DockerComposeEnvironment(repoRoot, 'compose.yaml')
      .withProjectName(project)
      .withEnvironment({ NODE_IMAGE, APP_PORT: String(appPort) })
      .withClientOptions({ executable: { standalone: true } })
      // docker-compose 1.x names containers <project>_<service>_1, and testcontainers matches the
      // whole name (it strips only Compose v2's "<project>-" prefix).
      .withWaitStrategy(`${project}_app_1`, appStarted)
      .withWaitStrategy(`${project}_walship_1`, walshipStarted)
      .withWaitStrategy(`${project}_sftp_1`, Wait.forHealthCheck())
      .withStartupTimeout(180_000);
    env = await (composeBuild ? environment.withBuild() : environment).up();
    console.log(`docker-compose up${composeBuild ? ' --build' : ''} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(async () => {
    if (env) await env.down({ removeVolumes: true, timeout: 30_000 }).catch(() => undefined);
    // Whatever up left behind if it failed half-way.
    await compose(['down', '-v', '--remove-orphans', '-t', '10']);
  }, 180_000);

  it('comes up from nothing: keys made, empty replica tolerated, app writing, sidecar shipping', async () => {
    expect(await exitCodeOf(await containerOf('keygen'))).toBe(0);
    const restore = await containerOf('restore');
    expect(await exitCodeOf(restore)).toBe(0);
    expect((await jsonLogs(restore)).some((l) => l.event === 'restore_skipped' && l.reason === 'replica empty')).toBe(true);

    await waitFor('the app to count 20 writes', async () => ((await appStats(appPort)).writes >= 20 ? true : undefined), 30_000);
    const page = await fetch(`http://127.0.0.1:${appPort}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/walship demo/);

    // LTX files arrive in the sftp service's replica volume (the chroot's /replica/cache.db).
    const ltx = await waitFor(
      'LTX files on the sftp replica',
      async () => {
        const r = await engine(['run', '--rm', '-v', `${project}_replica:/r:ro`, '--entrypoint', 'find', IMAGES.app, '/r/chroot/replica/cache.db/ltx', '-name', '*.ltx']);
        const files = r.stdout.split('\n').filter(Boolean);
        return files.length >= 2 ? files : undefined;
      },
      30_000,
      1000,
    );
    expect(ltx.some((f) => f.includes('/ltx/9/')), 'a snapshot on the replica').toBe(true);
    const walship = await containerOf('walship');
    const logs = await jsonLogs(walship);
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);

    // Informational: the image's HEALTHCHECK asks /healthz on addr (set in images/walship/walship.yml).
    const health = await engine(['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', walship]);
    console.log(`walship container health: ${health.stdout.trim() || 'none'}`);
  });

  it('brings the data back after the data volume is lost', async () => {
    // Graceful stop: the app writes its last commit, walship ships everything on SIGTERM.
    const stop = await compose(['stop', '-t', '60', 'app', 'walship']);
    expect(stop.code, stop.out).toBe(0);
    const walship = await containerOf('walship');
    expect(await exitCodeOf(walship)).toBe(0);
    expect(parseJsonLines((await engine(['logs', walship])).stdout).filter((l) => l.event === 'stopped').pop()?.shipped).toBe(true);
    const volume = `${project}_data`;
    const final = await readDb(volume);
    expect(final.integrity).toBe('ok');
    expect(final.writes).toBeGreaterThan(0);

    // Lose the volume, then `up` again: restore rebuilds cache.db from the replica first.
    const rm = await compose(['rm', '-f', '-s', '-v', 'app', 'walship', 'restore']);
    expect(rm.code, rm.out).toBe(0);
    await engine(['volume', 'rm', volume]);
    const up = await compose(['up', '-d']);
    expect(up.code, up.out).toBe(0);

    const restore = await containerOf('restore');
    await waitFor('restore to finish', async () => ((await engine(['inspect', '-f', '{{.State.Status}}', restore])).stdout.trim() === 'exited' ? true : undefined), 60_000);
    expect(await exitCodeOf(restore)).toBe(0);
    expect((await jsonLogs(restore)).some((l) => l.event === 'restored')).toBe(true);

    const stats = await waitFor('the app to answer', () => appStats(appPort), 60_000);
    expect(stats.started_with).toBe(final.writes);
    const app = await containerOf('app');
    expect((await jsonLogs(app)).find((l) => l.event === 'started')?.writes).toBe(final.writes);
  }, 300_000);
});
