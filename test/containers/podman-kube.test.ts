// The k8s/ manifests as pods that really run, on `podman kube play` (Podman 4.3.1). The pods are
// derived from the manifests by scripts/k8s-to-podman.mjs, which says what it changes and why;
// the keys come from k8s/make-keys.sh --out. Runs in the Podman pass only (with-podman.sh).
//
// In order, on one SFTP pod and a network this test creates:
//   1. the restore init container runs once (empty replica: nothing restored), the app serves,
//      and walship replicates to the SFTP pod, exactly;
//   2. a stop in sidecar order (app, then walship, then the pod) ships everything
//      ("shipped":true) and a restore from the replica is exactly the app's last state;
//   3. the data volume is deleted and the pod played again: the init container restores the
//      database before the app starts, and the app starts with exactly that state;
//   4. the read-replica Deployment (k8s/read-replica.yaml, two pods): each pod's follower keeps
//      its own copy exactly equal to the primary's, through further writes, and its app serves
//      it read-only; the follower's /readyz (its readiness probe, run by hand) answers 200.
// Where Podman differs from a cluster: the probes become healthchecks that never run here (no
// systemd timers), so nothing below waits on them; pods are reached by name, not via Services;
// an init container is removed once it has run, so its runs are counted from Podman's events.
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  IMAGES,
  appStats,
  engine,
  exitCodeOf,
  expectReplicaCaughtUp,
  hostDir,
  isPodman,
  jsonLogs,
  readDb,
  readDbIn,
  repoRoot,
  restoreFromReplica,
  uniqueName,
  waitFor,
  walshipConfig,
  writeHostFile,
} from './docker.js';
import { freePort } from '../helpers/ports.js';

function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: repoRoot, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(String(stdout));
    });
  });
}

interface PodmanEvent {
  Name: string;
  Status: string;
  Time: string;
  ContainerExitCode?: number;
}

/** Container events since `since` (ISO time) for these names, oldest first. */
async function eventsSince(since: string, names: string[]): Promise<PodmanEvent[]> {
  const r = await engine(['events', '--stream=false', '--since', since, ...names.flatMap((n) => ['--filter', `container=${n}`]), '--format', 'json']);
  return r.stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as PodmanEvent);
}

const ms = (t: string): number => Date.parse(t.replace(/(\.\d{3})\d*/, '$1'));

/**
 * Podman removes an init container once it has run, logs and all, so what it did is read from
 * the engine's events: exactly one start, one exit with code 0, and that exit before the app
 * container started.
 */
async function expectInitRanOnceBeforeApp(since: string, init: string, app: string): Promise<void> {
  const events = await eventsSince(since, [init, app]);
  const of = (name: string, status: string) => events.filter((e) => e.Name === name && e.Status === status);
  expect(of(init, 'start'), `${init} starts`).toHaveLength(1);
  expect(of(init, 'died').map((e) => e.ContainerExitCode ?? 0), `${init} exit codes`).toEqual([0]);
  expect(of(app, 'start'), `${app} starts`).toHaveLength(1);
  expect(ms(of(init, 'died')[0]!.Time)).toBeLessThanOrEqual(ms(of(app, 'start')[0]!.Time));
}

describe('k8s/ as pods on podman kube play', () => {
  const prefix = `${uniqueName('wk')}-`;
  const net = `${prefix}net`;
  const dataVolume = `${prefix}demo-app-data`;
  let dir: string;
  let outDir: string;
  let keysDir: string;
  let configFile: string;
  let appPort: number;
  // Container names: <pod>-<container>.
  const APP = 'demo-app-app';
  const SIDECAR = 'demo-app-walship';
  const RESTORE = 'demo-app-restore';
  // k8s/read-replica.yaml: replicas 2, so two pods (scripts/k8s-to-podman.mjs, change 1).
  const READ_PODS = ['demo-app-read-1', 'demo-app-read-2'];

  const play = (file: string) => {
    const configMaps = readdirSync(path.join(outDir, 'configmaps')).flatMap((f) => ['--configmap', path.join(outDir, 'configmaps', f)]);
    return engine(['kube', 'play', '--network', net, ...configMaps, path.join(outDir, file)], { timeoutMs: 120_000 });
  };
  const restore = () => restoreFromReplica(net, keysDir, configFile);

  beforeAll(async () => {
    expect(isPodman, 'podman-kube.test.ts runs on Podman: test/containers/with-podman.sh npx vitest run --config test/containers/vitest.config.ts').toBe(true);
    dir = hostDir('walship-kube');
    keysDir = path.join(dir, 'keys');
    outDir = path.join(dir, 'pods');
    await sh(path.join(repoRoot, 'k8s', 'make-keys.sh'), ['--out', keysDir]);
    appPort = await freePort();
    await sh('node', [path.join(repoRoot, 'scripts', 'k8s-to-podman.mjs'), '--keys', keysDir, '--out', outDir, '--volume-prefix', prefix, '--publish', `demo-app=127.0.0.1:${appPort}`]);
    // The images the manifests name, from the ones this suite built.
    const wanted = new Map([['walship', IMAGES.walship], ['walship-sftp', IMAGES.sftp], ['walship-demo-app', IMAGES.app]]);
    const images = new Set<string>();
    for (const f of readdirSync(outDir).filter((x) => x.endsWith('.yaml'))) {
      const pod = YAML.parse(readFileSync(path.join(outDir, f), 'utf8')) as { spec: { initContainers?: { image: string }[]; containers: { image: string }[] } };
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) images.add(c.image);
    }
    for (const image of images) {
      const built = wanted.get(image.split(':')[0]!);
      expect(built, `an image built here for ${image}`).toBeDefined();
      await engine(['tag', built!, image]);
    }
    // The one-shot restores of this test read the client key as uid 10001.
    for (const f of readdirSync(keysDir)) chmodSync(path.join(keysDir, f), 0o644);
    configFile = writeHostFile(dir, 'restore.yml', walshipConfig({ sftpHost: 'walship-sftp', replicaPath: '/replica/cache.db' }));
    await engine(['network', 'create', net]);
    await play('sftp-replica.yaml');
    await waitFor('sshd in the walship-sftp pod', async () => ((await engine(['logs', 'walship-sftp-sftp'], { allowFail: true })).stderr.includes('Server listening') ? true : undefined), 30_000);
  }, 900_000);

  afterAll(async () => {
    await engine(['pod', 'rm', '-f', '-t', '5', 'demo-app', 'walship-sftp', ...READ_PODS], { allowFail: true, timeoutMs: 60_000 });
    const vols = (await engine(['volume', 'ls', '-q'], { allowFail: true })).stdout.split('\n').filter((v) => v.startsWith(prefix));
    if (vols.length > 0) await engine(['volume', 'rm', '-f', ...vols], { allowFail: true });
    await engine(['network', 'rm', '-f', net], { allowFail: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('1: restore runs once, the app serves, walship replicates to the SFTP pod exactly', async () => {
    const since = new Date().toISOString();
    await play('demo-app.yaml');
    const stats = await waitFor('the app to count 20 writes', async () => {
      const s = await appStats(appPort);
      return s.writes >= 20 ? s : undefined;
    }, 60_000);
    expect(stats.started_with).toBe(0);
    const page = await fetch(`http://127.0.0.1:${appPort}/`);
    expect(await page.text()).toMatch(/<h1>walship demo<\/h1>/);

    await expectInitRanOnceBeforeApp(since, RESTORE, APP);

    const n = await expectReplicaCaughtUp({ appId: APP, dataVolume, restore, timeoutMs: 60_000 });
    expect(n).toBeGreaterThanOrEqual(20);
    expect((await jsonLogs(SIDECAR)).filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it('2: a stop in sidecar order ships everything, and the replica restores exactly', async () => {
    await engine(['stop', '-t', '30', APP]);
    await engine(['stop', '-t', '60', SIDECAR]);
    expect(await exitCodeOf(SIDECAR)).toBe(0);
    const stopped = (await jsonLogs(SIDECAR)).filter((l) => l.event === 'stopped').pop();
    expect(stopped?.shipped, JSON.stringify(stopped)).toBe(true);
    await engine(['pod', 'stop', '-t', '10', 'demo-app']);

    const final = await readDb(dataVolume);
    expect(final.integrity).toBe('ok');
    expect((await jsonLogs(APP)).find((l) => l.event === 'stopped')?.writes).toBe(final.writes);
    expect(await restore()).toMatchObject(final);
  }, 180_000);

  it('3: after the data volume is deleted, a new play restores the database before the app starts', async () => {
    const final = await readDb(dataVolume);
    await engine(['pod', 'rm', '-f', 'demo-app']);
    await engine(['volume', 'rm', dataVolume]);
    const since = new Date().toISOString();
    await play('demo-app.yaml');

    const stats = await waitFor('the app to answer', () => appStats(appPort), 60_000);
    expect(stats.started_with).toBe(final.writes);
    expect((await jsonLogs(APP)).find((l) => l.event === 'started')?.writes).toBe(final.writes);
    // The app found the restored counter: the restore ran, and ran first.
    await expectInitRanOnceBeforeApp(since, RESTORE, APP);

    // And the sidecar carries on from the restored state.
    await waitFor('more writes', async () => ((await appStats(appPort)).writes >= final.writes + 10 ? true : undefined), 30_000);
    const n = await expectReplicaCaughtUp({ appId: APP, dataVolume, restore, timeoutMs: 60_000 });
    expect(n).toBeGreaterThanOrEqual(final.writes + 10);
  }, 240_000);

  it('4: each read-replica pod follows the primary: its copy equals it exactly, served read-only', async () => {
    for (let i = 1; i <= READ_PODS.length; i++) await play(`read-replica-${i}.yaml`);
    for (const pod of READ_PODS) {
      await waitFor(`${pod}'s follower to restore`, async () => ((await readDbIn(`${pod}-app`).catch(() => undefined))?.writes ?? 0) > 0 || undefined, 90_000);
    }
    // Exactly the primary's content in every pod, read as the app reads it (read-only, busy
    // timeout); then again after more writes: they follow, they did not just restore once.
    for (const pod of READ_PODS) {
      await expectReplicaCaughtUp({ appId: APP, dataVolume, restore: () => readDbIn(`${pod}-app`), timeoutMs: 60_000 });
    }
    const before = (await appStats(appPort)).writes;
    await waitFor('20 more writes on the primary', async () => ((await appStats(appPort)).writes >= before + 20 ? true : undefined), 30_000);
    for (const pod of READ_PODS) {
      const n = await expectReplicaCaughtUp({ appId: APP, dataVolume, restore: () => readDbIn(`${pod}-app`), timeoutMs: 60_000 });
      expect(n).toBeGreaterThanOrEqual(before + 20);
      expect((await readDbIn(`${pod}-app`)).journal_mode, `${pod}: a follower's copy is in rollback-journal mode`).toBe('delete');
      // Its own emptyDir: one restore each, never a resume of another pod's copy.
      const logs = await jsonLogs(`${pod}-follower`);
      expect(logs.map((l) => l.event).filter((e) => e === 'restored' || e === 'follow_resumed'), pod).toEqual(['restored']);
      expect(logs.filter((l) => (l.level as number) >= 50), pod).toEqual([]);
      // The readiness probe, by hand (Podman runs probes only from systemd timers).
      const ready = await engine(['exec', `${pod}-follower`, 'node', '/app/healthcheck.mjs', '/readyz'], { allowFail: true });
      expect({ code: ready.code, out: ready.stdout.trim() }, pod).toEqual({ code: 0, out: '/readyz 200' });
      expect((await jsonLogs(`${pod}-app`)).find((l) => l.event === 'started'), pod).toMatchObject({ read_only: true });
      const write = await engine(['exec', `${pod}-app`, 'python3', '-c', 'import sqlite3; sqlite3.connect("/data/cache.db").execute("CREATE TABLE x(y)")'], { allowFail: true });
      expect(write.stderr, `${pod}: the app's mount is read-only`).toMatch(/readonly database|read-only/);
    }
  }, 360_000);
});
