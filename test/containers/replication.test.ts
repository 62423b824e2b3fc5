// The three images working together, as in a pod or a compose project: the demo app (diskcache,
// WAL mode, several commits a second) and the walship sidecar share a data volume; the replica is
// the SFTP image on a network this test creates. Every check compares the app's own counter,
// which only goes up, with what a walship restore rebuilds from the replica, and then the whole
// content: a restore must hold exactly the rows the app had committed (a digest of its dump).
//
// The scenarios run in order on one set of containers:
//   1. what the app writes reaches the replica, exactly;
//   2. the sidecar is killed (SIGKILL) mid-writes and started again: nothing is lost;
//   3. the SFTP server is stopped for 20 s and started again: the backlog drains;
//   4. a fresh volume and the restore init container: the app starts with exactly the replicated
//      data, and a new sidecar carries on replicating from there;
//   5. the init container on an existing database changes nothing, and on an empty replica exits 0.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import {
  IMAGES,
  WalshipTestContainer,
  appStats,
  createVolume,
  engine,
  exitCodeOf,
  expectReplicaCaughtUp,
  hostDir,
  jsonLogs,
  makeKeys,
  readDb,
  removeQuietly,
  restoreFromReplica,
  sleep,
  uniqueName,
  waitFor,
  walshipConfig,
  walshipRunArgs,
  writeHostFile,
} from './docker.js';

const SFTP_ALIAS = 'sftp';

describe('walship sidecar, demo app and SFTP replica containers', () => {
  let network: StartedNetwork;
  const volumes: string[] = [];
  const containers: StartedTestContainer[] = [];
  const extraContainers: string[] = [];
  let dir: string;
  let configFile: string;
  let keys: string;
  let replicaVolume: string;
  let sftp: StartedTestContainer;
  let data: string;
  let app: StartedTestContainer;
  let appPort: number;
  let sidecar: StartedTestContainer;

  async function startSftp(): Promise<StartedTestContainer> {
    const c = await new WalshipTestContainer(IMAGES.sftp)
      .withNetwork(network)
      .withNetworkAliases(SFTP_ALIAS)
      .withEnvironment({ HOST_KEY_FILE: '/keys/ssh_host_ed25519_key', AUTHORIZED_KEYS_FILE: '/keys/authorized_keys' })
      .withBindMounts([
        { source: keys, target: '/keys', mode: 'ro' },
        { source: replicaVolume, target: '/var/lib/sftp' },
      ])
      // The same restrictions as k8s/sftp-replica.yaml: read-only root, /run on tmpfs, only the
      // capabilities sshd needs.
      .withReadOnlyRootFilesystem()
      .withTmpFs({ '/run': 'rw,size=8m' })
      .withDroppedCapabilities('ALL')
      .withAddedCapabilities('CHOWN', 'FOWNER', 'NET_BIND_SERVICE', 'SETGID', 'SETUID', 'SYS_CHROOT', 'KILL')
      .withSecurityOpt('no-new-privileges')
      .withWaitStrategy(Wait.forLogMessage(/Server listening on 0\.0\.0\.0 port 22/))
      .withStartupTimeout(30_000)
      .start();
    containers.push(c);
    return c;
  }

  async function startApp(volume: string): Promise<StartedTestContainer> {
    const c = await new WalshipTestContainer(IMAGES.app)
      .withNetwork(network)
      .withEnvironment({ WRITE_INTERVAL: '0.1' })
      .withBindMounts([{ source: volume, target: '/data' }])
      .withReadOnlyRootFilesystem()
      .withTmpFs({ '/tmp': 'rw,size=16m' })
      .withLoopbackPorts(8080)
      .withWaitStrategy(Wait.forLogMessage(/"event": "started"/))
      .withStartupTimeout(30_000)
      .start();
    containers.push(c);
    return c;
  }

  async function startSidecar(volume: string): Promise<StartedTestContainer> {
    const c = await new WalshipTestContainer(IMAGES.walship)
      .withNetwork(network)
      .withCommand(['replicate', '-config', '/etc/walship/walship.yml'])
      .withBindMounts([
        { source: volume, target: '/data' },
        { source: keys, target: '/keys', mode: 'ro' },
        { source: configFile, target: '/etc/walship/walship.yml', mode: 'ro' },
      ])
      .withReadOnlyRootFilesystem()
      .withTmpFs({ '/tmp': 'rw,size=16m' })
      .withWaitStrategy(Wait.forLogMessage(/"event":"started"/))
      .withStartupTimeout(60_000)
      .start();
    containers.push(c);
    return c;
  }

  const caughtUp = (timeoutMs: number): Promise<number> =>
    expectReplicaCaughtUp({ appId: app.getId(), dataVolume: data, restore: () => restoreFromReplica(network.getName(), keys, configFile), timeoutMs });

  beforeAll(async () => {
    network = await new Network().start();
    dir = hostDir('walship-ctest');
    configFile = writeHostFile(dir, 'walship.yml', walshipConfig({ sftpHost: SFTP_ALIAS, replicaPath: '/replica/cache.db', addr: ':9090' }));
    keys = await createVolume(uniqueName('walship-keys'));
    replicaVolume = await createVolume(uniqueName('walship-replica'));
    data = await createVolume(uniqueName('walship-data'));
    volumes.push(keys, replicaVolume, data);
    await makeKeys(keys, SFTP_ALIAS);
    sftp = await startSftp();
  }, 600_000);

  afterAll(async () => {
    await removeQuietly('container', [...containers.map((c) => c.getId()), ...extraContainers]);
    await network?.stop().catch(() => undefined);
    await removeQuietly('volume', volumes);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('1: what the app writes reaches the SFTP replica, exactly', async () => {
    app = await startApp(data);
    appPort = app.getMappedPort(8080);
    sidecar = await startSidecar(data);
    await waitFor('20 writes', async () => ((await appStats(appPort)).writes >= 20 ? true : undefined), 30_000);
    const n = await caughtUp(30_000);
    expect(n).toBeGreaterThanOrEqual(20);
    console.log(`replica caught up with ${n} writes`);
    const logs = await jsonLogs(sidecar.getId());
    expect(logs.some((l) => l.event === 'uploaded' || l.event === 'snapshot')).toBe(true);
  });

  it('2: the sidecar is killed mid-writes and restarted; nothing is lost', async () => {
    const before = (await appStats(appPort)).writes;
    await engine(['kill', '--signal', 'KILL', sidecar.getId()]);
    // The app goes on writing while no sidecar runs.
    await waitFor('writes while the sidecar is down', async () => ((await appStats(appPort)).writes >= before + 15 ? true : undefined), 30_000);
    const restarts = (await jsonLogs(sidecar.getId())).filter((l) => l.event === 'started').length;
    await engine(['start', sidecar.getId()]);
    await waitFor('the sidecar to start again', async () => ((await jsonLogs(sidecar.getId())).filter((l) => l.event === 'started').length > restarts ? true : undefined), 60_000);
    const n = await caughtUp(30_000);
    expect(n).toBeGreaterThanOrEqual(before + 15);
  }, 120_000);

  it('3: the SFTP server is stopped for 20 s; the backlog drains when it returns', async () => {
    const before = (await appStats(appPort)).writes;
    await engine(['stop', '-t', '10', sftp.getId()]);
    await sleep(20_000);
    const during = (await appStats(appPort)).writes;
    expect(during).toBeGreaterThan(before + 50);
    await engine(['start', sftp.getId()]);
    await waitFor('sshd to listen again', async () => ((await engine(['exec', sftp.getId(), '/usr/local/bin/sftp-healthcheck'], { allowFail: true })).code === 0 ? true : undefined), 30_000);
    const back = Date.now();
    // Shipping retries back off (up to 30 s per try), so draining can take a while after the
    // server returns.
    const n = await caughtUp(240_000);
    console.log(`backlog of ${n - before} writes drained ${((Date.now() - back) / 1000).toFixed(1)} s after sshd returned`);
    expect(n).toBeGreaterThanOrEqual(during);
    const logs = await jsonLogs(sidecar.getId());
    expect(logs.some((l) => l.level === 50 || l.event === 'ship_failed'), 'the outage shows in the sidecar log').toBe(true);
  }, 420_000);

  it('4: on a fresh volume the restore init container brings back exactly the replicated data', async () => {
    // A graceful stop: the app commits its last write and exits; the sidecar ships everything
    // committed on SIGTERM and exits 0.
    await engine(['stop', '-t', '30', app.getId()]);
    const final = await readDb(data);
    expect(final.integrity).toBe('ok');
    const appLogs = await jsonLogs(app.getId());
    expect(appLogs.find((l) => l.event === 'stopped')?.writes).toBe(final.writes);
    await engine(['stop', '-t', '60', sidecar.getId()]);
    expect(await exitCodeOf(sidecar.getId())).toBe(0);
    const stopped = (await jsonLogs(sidecar.getId())).filter((l) => l.event === 'stopped').pop();
    expect(stopped?.shipped).toBe(true);

    const fresh = await createVolume(uniqueName('walship-data2'));
    volumes.push(fresh);
    const init = await engine([
      'run', '--rm', ...walshipRunArgs(network.getName(), keys, configFile), '-v', `${fresh}:/data`,
      IMAGES.walship, 'restore', '-config', '/etc/walship/walship.yml', '-if-db-not-exists', '-if-replica-exists', '/data/cache.db',
    ]);
    expect(init.stdout + init.stderr).toMatch(/"event":"restored"/);
    // Exactly what the app had committed when it stopped: same content, not only the counter.
    const restored = await readDb(fresh);
    expect(restored).toEqual(final);

    // The app starts on the restored volume with exactly the replicated counter.
    data = fresh;
    app = await startApp(fresh);
    appPort = app.getMappedPort(8080);
    const started = (await jsonLogs(app.getId())).find((l) => l.event === 'started');
    expect(started?.writes).toBe(final.writes);
    expect((await appStats(appPort)).started_with).toBe(final.writes);

    // A new sidecar on the restored volume carries on where the replica stands.
    sidecar = await startSidecar(fresh);
    await waitFor('more writes', async () => ((await appStats(appPort)).writes >= final.writes + 20 ? true : undefined), 30_000);
    const n = await caughtUp(30_000);
    expect(n).toBeGreaterThanOrEqual(final.writes + 20);
  });

  it('5: the init container leaves an existing database alone, and exits 0 on an empty replica', async () => {
    await engine(['stop', '-t', '30', app.getId()]);
    await engine(['stop', '-t', '60', sidecar.getId()]);
    const digest = async (): Promise<string> => {
      const r = await engine(['run', '--rm', '-v', `${data}:/data:ro`, '--entrypoint', 'sh', IMAGES.app, '-c', 'cd /data && ls -A && sha256sum cache.db*']);
      return r.stdout;
    };
    const before = await digest();
    const existing = await engine([
      'run', '--rm', ...walshipRunArgs(network.getName(), keys, configFile), '-v', `${data}:/data`,
      IMAGES.walship, 'restore', '-config', '/etc/walship/walship.yml', '-if-db-not-exists', '-if-replica-exists', '/data/cache.db',
    ]);
    expect(existing.stdout + existing.stderr).toMatch(/"reason":"database exists"/);
    expect(await digest()).toBe(before);

    const emptyConfig = writeHostFile(dir, 'empty.yml', walshipConfig({ sftpHost: SFTP_ALIAS, replicaPath: '/replica/never-written.db' }));
    const empty = await createVolume(uniqueName('walship-empty'));
    volumes.push(empty);
    const r = await engine([
      'run', '--rm', ...walshipRunArgs(network.getName(), keys, emptyConfig), '-v', `${empty}:/data`,
      IMAGES.walship, 'restore', '-config', '/etc/walship/walship.yml', '-if-db-not-exists', '-if-replica-exists', '/data/cache.db',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/"reason":"replica empty"/);
    const ls = await engine(['run', '--rm', '-v', `${empty}:/data:ro`, '--entrypoint', 'ls', IMAGES.app, '-A', '/data']);
    expect(ls.stdout.trim()).toBe('');
  });
});
