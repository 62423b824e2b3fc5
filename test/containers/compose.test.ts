// compose.yaml end to end, as a user runs it from a fresh clone: keygen -> sftp -> restore ->
// app + walship, with no manual step and host key verification on. Then the disaster drill: stop
// app and sidecar, delete the data volume, bring the project up again, and the app starts with
// exactly the data it had, which is exactly what a restore from the replica holds.
//
// On Docker: the standalone docker-compose (1.29 here), through testcontainers, with one `up`.
// On Podman: podman-compose 1.0.3 (Debian 12), and here the engines differ: podman-compose 1.0.3
// reads depends_on only for the start order and ignores its conditions
// (service_completed_successfully, service_healthy), so one `up -d` would start the app while
// the restore still runs. The test brings the project up in the steps the README's Podman
// section gives (podmanComposeUp below), unchanged compose.yaml, and stops the app before walship
// (podman-compose stops services in reverse file order, walship first).
//
// In between, the `standby` profile: a follower (`walship restore -f`) keeps a second volume
// current from the replica, and the demo app serves it read-only; the standby's database must
// equal the primary's exactly, and go on following it, through the drill too (the README's
// manual failover: a restore from the replica, after which the primary continues its history).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerComposeEnvironment, Wait, type StartedDockerComposeEnvironment } from 'testcontainers';
import { IMAGES, NODE_IMAGE, appStats, engine, expectReplicaCaughtUp, exitCodeOf, isPodman, jsonLogs, parseJsonLines, readDb, readDbIn, repoRoot, restoreFromReplica, uniqueName, waitFor } from './docker.js';
import { ComposeProject } from './compose-project.js';
import { freePort } from '../helpers/ports.js';


describe(`compose.yaml with ${isPodman ? 'podman-compose' : 'docker-compose standalone'}`, () => {
  const project = uniqueName('walshipcompose').replace(/-/g, '');
  let appPort: number;
  let standbyPort: number;
  let env: StartedDockerComposeEnvironment | undefined;
  let composeEnv: NodeJS.ProcessEnv;

  let p: ComposeProject;
  const compose = (args: string[], profiles: string[] = []) => p.run(args, { profiles });
  const containerOf = (service: string) => p.containerOf(service);

  /**
   * The README's steps for podman-compose 1.0.3, which starts services in order but waits for
   * nothing: keys, then the SFTP server until its healthcheck passes (run by hand: no systemd
   * timers here), then the restore to its end, then app and walship, named (the one-shots run
   * again and change nothing).
   */
  async function podmanComposeUp(): Promise<void> {
    const step = (args: string[]) => p.step(args);
    await step(['up', '-d', 'keygen']);
    expect(await p.exited('keygen')).toBe(0);
    await step(['up', '-d', 'sftp']);
    const sftp = await containerOf('sftp');
    await waitFor('the sftp healthcheck', async () => ((await engine(['healthcheck', 'run', sftp], { allowFail: true })).code === 0 ? true : undefined), 60_000);
    await step(['up', '-d', 'restore']);
    expect(await p.exited('restore')).toBe(0);
    // Named: podman-compose 1.0.3 ignores profiles, and a bare `up -d` would start those too.
    await step(['up', '-d', 'app', 'walship']);
    await waitFor('app and walship to start', async () => {
      const app = (await jsonLogs(await containerOf('app'))).some((l) => l.event === 'started');
      const walship = (await jsonLogs(await containerOf('walship'))).some((l) => l.event === 'started');
      return app && walship ? true : undefined;
    }, 60_000);
  }

  beforeAll(async () => {
    // The images compose.yaml names are the ones the other container tests build from the same
    // Dockerfiles: tag them, so `up` need not build again. (docker-compose 1.x sends its build
    // context differently from the docker CLI, which misses the layer cache and would rebuild the
    // native modules, about 100 s.) WALSHIP_COMPOSE_BUILD=1 makes compose build them itself.
    const composeBuild = process.env.WALSHIP_COMPOSE_BUILD === '1' && !isPodman;
    if (!composeBuild) {
      for (const [built, named] of [[IMAGES.walship, 'walship:local'], [IMAGES.sftp, 'walship-sftp:local'], [IMAGES.app, 'walship-demo-app:local']] as const) {
        await engine(['tag', built, named]);
      }
    }
    appPort = await freePort();
    standbyPort = await freePort();
    composeEnv = { ...process.env, NODE_IMAGE, APP_PORT: String(appPort), STANDBY_PORT: String(standbyPort) };
    p = new ComposeProject(project, composeEnv);
    const started = Date.now();
    if (isPodman) {
      await podmanComposeUp();
      console.log(`podman-compose up (in steps) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    const appStarted = Wait.forLogMessage(/"event": "started"/);
    const walshipStarted = Wait.forLogMessage(/"event":"started"/);
    const environment = new DockerComposeEnvironment(repoRoot, 'compose.yaml')
      .withProjectName(project)
      .withEnvironment({ NODE_IMAGE, APP_PORT: String(appPort), STANDBY_PORT: String(standbyPort) })
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
    // Whatever up left behind if it failed half-way, the standby profile's services included.
    await p.down(['standby']);
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

  it('standby profile: a follower keeps a read-only copy equal to the primary, and follows it', async () => {
    // The primary has shipped (the test above): the follower restores at once, then follows.
    // (podman-compose: no profiles; the services are named, and it starts them in order.)
    await p.step(['up', '-d', 'follower', 'standby-app'], { profiles: ['standby'] });
    const follower = await containerOf('follower');
    const standby = await containerOf('standby-app');
    const first = await waitFor('the standby app to serve the followed database', async () => {
      const s = await appStats(standbyPort).catch(() => undefined);
      return s && s.writes > 0 ? s : undefined;
    }, 60_000);
    expect(first).toMatchObject({ read_only: true, database: '/data/cache.db' });

    // Exactly the primary's content, read as a reader must (read-only, busy timeout), through
    // the standby app's container; then again after more writes: it follows, it did not just
    // restore once.
    const app = await containerOf('app');
    const dataVolume = `${project}_data`;
    const n1 = await expectReplicaCaughtUp({ appId: app, dataVolume, restore: () => readDbIn(standby), timeoutMs: 60_000 });
    // Meanwhile a reader polls the standby app (bounded: 30 s at most): every answer a 200, and
    // the counter it reads never goes backwards.
    const reads: { status: number; writes?: number }[] = [];
    await waitFor('20 more writes on the primary', async () => {
      const res = await fetch(`http://127.0.0.1:${standbyPort}/stats`, { signal: AbortSignal.timeout(5000) });
      reads.push({ status: res.status, writes: res.ok ? ((await res.json()) as { writes: number }).writes : undefined });
      return (await appStats(appPort)).writes >= n1 + 20 ? true : undefined;
    }, 30_000, 200);
    expect(reads.filter((r) => r.status !== 200)).toEqual([]);
    const seen = reads.map((r) => r.writes!);
    expect(seen, 'the standby never goes backwards').toEqual([...seen].sort((a, b) => a - b));
    expect(seen[0]).toBeGreaterThanOrEqual(n1);
    const n2 = await expectReplicaCaughtUp({ appId: app, dataVolume, restore: () => readDbIn(standby), timeoutMs: 60_000 });
    expect(n2).toBeGreaterThanOrEqual(n1 + 20);
    const copy = await readDbIn(standby);
    expect(copy.journal_mode, 'a follower keeps its copy in rollback-journal mode').toBe('delete');

    const logs = await jsonLogs(follower);
    expect(logs.filter((l) => l.event === 'restored'), 'one restore, then files applied one by one').toHaveLength(1);
    expect(logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    // The image's healthcheck knows a follower: it asks /readyz on the config's addr.
    const ready = await engine(['exec', follower, 'node', '/app/healthcheck.mjs', '/readyz'], { allowFail: true });
    expect({ code: ready.code, out: ready.stdout.trim() }).toEqual({ code: 0, out: '/readyz 200' });
    // The standby's volume is mounted read-only into the app: it cannot write even by mistake.
    const write = await engine(['exec', standby, 'python3', '-c', 'import sqlite3; sqlite3.connect("/data/cache.db").execute("CREATE TABLE x(y)")'], { allowFail: true });
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/readonly database|read-only/);
    expect((await jsonLogs(standby)).find((l) => l.event === 'started')).toMatchObject({ read_only: true });
  }, 300_000);

  it('brings the data back after the data volume is lost', async () => {
    // Graceful stop, the app first: it writes its last commit, then walship ships everything on
    // SIGTERM. (docker-compose stops the two together; podman-compose would stop walship first.)
    for (const services of isPodman ? [['app'], ['walship']] : [['app', 'walship']]) {
      const stop = await compose(['stop', '-t', '60', ...services]);
      expect(stop.code, stop.out).toBe(0);
    }
    const walship = await containerOf('walship');
    expect(await exitCodeOf(walship)).toBe(0);
    expect(parseJsonLines((await engine(['logs', walship])).stdout).filter((l) => l.event === 'stopped').pop()?.shipped).toBe(true);
    const volume = `${project}_data`;
    const final = await readDb(volume);
    expect(final.integrity).toBe('ok');
    expect(final.writes).toBeGreaterThan(0);
    // The replica holds exactly that: a restore with the demo's own walship.yml, on the project's
    // network and keys, into a scratch volume.
    const fromReplica = await restoreFromReplica(`${project}_default`, `${project}_keys`, path.join(repoRoot, 'images', 'walship', 'walship.yml'));
    expect(fromReplica).toMatchObject(final);

    // Lose the volume, then `up` again: restore rebuilds cache.db from the replica first.
    if (isPodman) {
      // podman-compose 1.0.3 has no `rm`.
      await engine(['rm', '-f', ...(await Promise.all(['app', 'walship', 'restore'].map(containerOf)))]);
    } else {
      const rm = await compose(['rm', '-f', '-s', '-v', 'app', 'walship', 'restore']);
      expect(rm.code, rm.out).toBe(0);
    }
    await engine(['volume', 'rm', volume]);
    if (isPodman) {
      await podmanComposeUp();
    } else {
      await p.step(['up', '-d']);
    }

    const restore = await containerOf('restore');
    expect(await p.exited('restore')).toBe(0);
    // Exactly one run that restored (on Podman the later `up -d` starts it again: it must then
    // leave the restored database alone).
    const runs = (await jsonLogs(restore)).filter((l) => l.event === 'restored' || l.event === 'restore_skipped').map((l) => [l.event, l.reason]);
    expect(runs).toEqual(isPodman ? [['restored', undefined], ['restore_skipped', 'database exists']] : [['restored', undefined]]);

    const stats = await waitFor('the app to answer', () => appStats(appPort), 60_000);
    expect(stats.started_with).toBe(final.writes);
    const app = await containerOf('app');
    expect((await jsonLogs(app)).find((l) => l.event === 'started')?.writes).toBe(final.writes);

    // This is also the README's manual failover: the standby (started above, still running)
    // follows the restored primary, which goes on with the replica's history, and its copy is
    // exactly the primary's again after more writes.
    await waitFor('10 more writes after the restore', async () => ((await appStats(appPort)).writes >= final.writes + 10 ? true : undefined), 30_000);
    const standby = await containerOf('standby-app');
    const n = await expectReplicaCaughtUp({ appId: app, dataVolume: volume, restore: () => readDbIn(standby), timeoutMs: 60_000 });
    expect(n).toBeGreaterThanOrEqual(final.writes + 10);
    const follower = (await jsonLogs(await containerOf('follower'))).map((l) => l.event);
    expect(follower.filter((e) => e === 'restored' || e === 'follow_resync'), 'followed on, without restoring again').toEqual(['restored']);
  }, 300_000);
});
