// Properties of each image on its own: users, read-only roots, the walship HEALTHCHECK script,
// the keygen one-shot, and the SFTP server's lock-down (key only, SFTP only, chrooted, host key
// kept on its volume).
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import {
  IMAGES,
  WalshipTestContainer,
  createVolume,
  engine,
  hostDir,
  isPodman,
  makeKeys,
  parseJsonLines,
  removeQuietly,
  repoRoot,
  uniqueName,
  waitFor,
  writeHostFile,
} from './docker.js';

describe('the images', () => {
  let network: StartedNetwork;
  const volumes: string[] = [];
  const containers: string[] = [];
  let dir: string;

  beforeAll(async () => {
    network = await new Network().start();
    dir = hostDir('walship-images');
  }, 600_000);

  afterAll(async () => {
    await removeQuietly('container', containers);
    await network?.stop().catch(() => undefined);
    await removeQuietly('volume', volumes);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  async function start(c: WalshipTestContainer): Promise<StartedTestContainer> {
    const started = await c.start();
    containers.push(started.getId());
    return started;
  }

  describe('walship', () => {
    it('runs as uid 10001 on a read-only root filesystem', async () => {
      const r = await engine(['run', '--rm', '--read-only', IMAGES.walship, 'version']);
      expect(r.stdout).toMatch(/^walship \d+\.\d+\.\d+/);
      const id = await engine(['run', '--rm', '--entrypoint', 'id', IMAGES.walship]);
      expect(id.stdout).toMatch(/^uid=10001\b.*gid=10001\b/);
      const inspect = JSON.parse((await engine(['image', 'inspect', IMAGES.walship])).stdout)[0];
      expect(inspect.Config.User).toBe('10001:10001');
      // The same node flags as the bin's shebang, so the image runs walship as the bin does.
      const shebang = readFileSync(path.join(repoRoot, 'src', 'cli', 'main.ts'), 'utf8').split('\n', 1)[0]!;
      const flags = /^#!\/usr\/bin\/env -S node((?: -\S+)*)$/.exec(shebang)?.[1]?.trim().split(' ') ?? [];
      expect(flags.length).toBeGreaterThan(0);
      expect(inspect.Config.Entrypoint).toEqual(['node', ...flags, '/app/dist/cli/main.js']);
      // Docker keeps the HEALTHCHECK under Config; Podman's `image inspect` at the top level.
      expect((isPodman ? inspect.Healthcheck : inspect.Config.Healthcheck).Test).toEqual(['CMD', 'node', '/app/healthcheck.mjs']);
    });

    it('has a HEALTHCHECK that passes without addr and follows /healthz with it', async () => {
      const data = await createVolume(uniqueName('walship-img-data'));
      volumes.push(data);
      const run = async (name: string, config: string): Promise<StartedTestContainer> => {
        const file = writeHostFile(dir, name, config);
        return start(
          new WalshipTestContainer(IMAGES.walship)
            .withCommand(['replicate', '-config', '/etc/walship/walship.yml'])
            .withBindMounts([
              { source: data, target: '/data' },
              { source: file, target: '/etc/walship/walship.yml', mode: 'ro' },
            ])
            .withReadOnlyRootFilesystem()
            .withTmpFs({ '/tmp': 'rw,size=16m' })
            .withWaitStrategy(Wait.forLogMessage(/"event":"started"/)),
        );
      };
      const base = ['dbs:', '  - path: /data/cache.db', '    replicas:', '      - url: file:///data/replica/cache.db', ''].join('\n');

      const plain = await run('plain.yml', base);
      const noAddr = await engine(['exec', plain.getId(), 'node', '/app/healthcheck.mjs'], { allowFail: true });
      expect(noAddr.code).toBe(0);
      expect(noAddr.stdout).toMatch(/addr not configured/);
      await engine(['stop', plain.getId()]);

      const served = await run('addr.yml', `addr: ":9090"\n${base}`);
      // Whatever /healthz and /readyz answer, the check (the HEALTHCHECK, and the k8s exec
      // probes with the path as argument) must agree with it.
      for (const probePath of ['/healthz', '/readyz']) {
        const probe = `fetch('http://127.0.0.1:9090${probePath}').then((r) => console.log(r.status), (e) => console.log('error ' + e.message))`;
        const status = await waitFor(`an answer from ${probePath} or a refusal`, async () => (await engine(['exec', served.getId(), 'node', '-e', probe])).stdout.trim(), 10_000);
        const check = await engine(['exec', served.getId(), 'node', '/app/healthcheck.mjs', ...(probePath === '/healthz' ? [] : [probePath])], { allowFail: true });
        console.log(`${probePath} answered ${status}; check exit ${check.code}: ${check.stdout.trim()}`);
        expect(check.code === 0, `${probePath}: ${status}, check said ${check.stdout.trim()}`).toBe(status === '200');
      }
    });
  });

  describe('keygen and sftp', () => {
    let keys: string;

    beforeAll(async () => {
      keys = await createVolume(uniqueName('walship-img-keys'));
      volumes.push(keys);
    });

    it('keygen makes the keys once and keeps them', async () => {
      await makeKeys(keys, 'sftp');
      const list = async (): Promise<string> =>
        (await engine(['run', '--rm', '-v', `${keys}:/keys:ro`, '--entrypoint', 'sh', IMAGES.sftp, '-c', 'cd /keys && stat -c "%n %u %a" * && sha256sum *'])).stdout;
      const first = await list();
      await makeKeys(keys, 'sftp');
      expect(await list()).toBe(first);
      expect(first).toMatch(/^id_ed25519 10001 400$/m);
      expect(first).toMatch(/^ssh_host_ed25519_key 0 600$/m);
      const knownHosts = (await engine(['run', '--rm', '-v', `${keys}:/keys:ro`, '--entrypoint', 'cat', IMAGES.sftp, '/keys/known_hosts'])).stdout;
      expect(knownHosts).toMatch(/^sftp ssh-ed25519 AAAA\S+\n$/);
    });

    it('sftp allows only key logins, only SFTP, only below /replica', async () => {
      const replica = await createVolume(uniqueName('walship-img-replica'));
      volumes.push(replica);
      const sftp = await start(
        new WalshipTestContainer(IMAGES.sftp)
          .withNetwork(network)
          .withNetworkAliases('sftp')
          .withEnvironment({ HOST_KEY_FILE: '/keys/ssh_host_ed25519_key' })
          .withBindMounts([
            { source: keys, target: '/keys', mode: 'ro' },
            { source: replica, target: '/var/lib/sftp' },
          ])
          // Podman runs healthchecks from systemd timers, and there is no systemd here: the
          // health status would stay "starting". There, wait for sshd's own line instead.
          .withWaitStrategy(isPodman ? Wait.forLogMessage(/Server listening/) : Wait.forHealthCheck()),
      );
      if (isPodman) expect((await engine(['healthcheck', 'run', sftp.getId()], { allowFail: true })).code, 'the HEALTHCHECK, run by hand').toBe(0);
      const client = (script: string): Promise<{ code: number; stdout: string; stderr: string }> =>
        engine(['run', '--rm', '--network', network.getName(), '--user', '10001:10001', '-e', 'HOME=/tmp', '-v', `${keys}:/keys:ro`, '--entrypoint', 'sh', IMAGES.sftp, '-c', script], { allowFail: true });
      const ssh = '-i /keys/id_ed25519 -o UserKnownHostsFile=/keys/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes';

      const ok = await client(`printf 'mkdir /replica/t\\nput /etc/hostname /replica/t/f\\nls /replica/t\\n' | sftp -b - ${ssh} walship@sftp`);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/\/replica\/t\/f/);
      const outside = await client(`printf 'mkdir /elsewhere\\n' | sftp -b - ${ssh} walship@sftp`);
      expect(outside.code).not.toBe(0);
      const shell = await client(`ssh ${ssh} walship@sftp id`);
      expect(shell.stdout + shell.stderr).toMatch(/allows sftp connections only/);
      expect(shell.stdout).not.toMatch(/uid=/);
      const password = await client('ssh -o BatchMode=yes -o PreferredAuthentications=password,keyboard-interactive -o UserKnownHostsFile=/keys/known_hosts walship@sftp true');
      expect(password.code).not.toBe(0);
      expect(password.stderr).toMatch(/Permission denied \(publickey\)/);
      await engine(['stop', sftp.getId()]);
    });

    it('sftp makes a host key on first start and keeps it on its volume', async () => {
      const replica = await createVolume(uniqueName('walship-img-replica2'));
      volumes.push(replica);
      const fingerprint = async (): Promise<string> => {
        const c = await start(
          new WalshipTestContainer(IMAGES.sftp)
            .withBindMounts([
              { source: keys, target: '/keys', mode: 'ro' },
              { source: replica, target: '/var/lib/sftp' },
            ])
            .withWaitStrategy(Wait.forLogMessage(/Server listening/)),
        );
        const logs = await engine(['logs', c.getId()]);
        await engine(['rm', '-f', c.getId()]);
        const m = /host key \d+ (SHA256:\S+)/.exec(logs.stdout + logs.stderr);
        expect(m).not.toBeNull();
        return m![1]!;
      };
      const first = await fingerprint();
      expect(await fingerprint()).toBe(first);
    });
  });

  describe('demo app', () => {
    it('writes to /data/cache.db in WAL mode as uid 10001 with a read-only root', async () => {
      const data = await createVolume(uniqueName('walship-img-app'));
      volumes.push(data);
      const app = await start(
        new WalshipTestContainer(IMAGES.app)
          .withBindMounts([{ source: data, target: '/data' }])
          .withReadOnlyRootFilesystem()
          .withTmpFs({ '/tmp': 'rw,size=16m' })
          .withLoopbackPorts(8080)
          .withWaitStrategy(Wait.forLogMessage(/"event": "started"/)),
      );
      const started = parseJsonLines((await engine(['logs', app.getId()])).stdout).find((l) => l.event === 'started');
      expect(started).toMatchObject({ writes: 0, journal_mode: 'wal', database: '/data/cache.db' });
      const port = app.getMappedPort(8080);
      const stats = await waitFor('a few writes', async () => {
        const s = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { writes: number };
        return s.writes >= 3 ? s : undefined;
      }, 10_000);
      expect(stats.writes).toBeGreaterThanOrEqual(3);
      const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      expect(html).toMatch(/<h1>walship demo<\/h1>/);
      const ls = await engine(['exec', app.getId(), 'sh', '-c', 'id -u && stat -c "%n %u" /data/cache.db /data/cache.db-wal']);
      expect(ls.stdout).toMatch(/^10001\n\/data\/cache\.db 10001\n\/data\/cache\.db-wal 10001\n$/);
      await engine(['stop', app.getId()]);
      const stopped = parseJsonLines((await engine(['logs', app.getId()])).stdout).find((l) => l.event === 'stopped');
      expect(stopped?.writes).toBeGreaterThanOrEqual(stats.writes);
    });
  });
});
