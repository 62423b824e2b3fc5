// Directory mode on SFTP (OpenSSH sshd on loopback) and S3 (versitygw on loopback) replicas: each
// database goes to `<replica path>/<relative path>` in the backend's own layout, and
// `restore -config F` with no DB_PATH finds the entry's databases by listing the replica, then
// restores each exactly into an empty directory.
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter } from '../helpers/processes.js';
import { S3Server } from '../helpers/s3.js';
import { Sshd } from '../helpers/sshd.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Replicates two databases (one in a subdirectory) once, empties the directory, restores all. */
async function roundTrip(replicaYaml: string, env: NodeJS.ProcessEnv, listRemote: () => Promise<string[]>, expectedRemote: string[]): Promise<void> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'walship-dir-remote-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const data = path.join(root, 'data');
  mkdirSync(path.join(data, 'eu'), { recursive: true });
  const config = path.join(root, 'walship.yml');
  writeFileSync(config, `dbs:\n  - dir: ${data}\n    pattern: "*.db"\n    recursive: true\n    replica:\n${replicaYaml}`);
  const a = path.join(data, 'a.db');
  const b = path.join(data, 'eu', 'b.db');
  await runWriter('node', { db: a, from: 1, to: 15, payload: 'mixed' });
  await runWriter('python', { db: b, from: 1, to: 25, payload: 'small' });
  const once = await runWalship(['replicate', '-config', config, '-once'], env);
  expect(once.code, once.stdout + once.stderr).toBe(0);
  expect(await listRemote()).toEqual(expectedRemote);
  const [dumpA, dumpB] = [dump(a), dump(b)];
  renameSync(data, `${data}.old`);
  mkdirSync(data);
  const dry = await runWalship(['restore', '-config', config, '-dry-run', '-json'], env);
  expect(dry.code, dry.stderr).toBe(0);
  expect((JSON.parse(dry.stdout) as Array<{ target_path: string }>).map((p) => p.target_path)).toEqual([a, b]);
  const r = await runWalship(['restore', '-config', config, '-if-db-not-exists', '-if-replica-exists'], env);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expect(checkRestored(a, 'mixed').k).toBe(15);
  expect(dump(a)).toBe(dumpA);
  expect(checkRestored(b, 'small').k).toBe(25);
  expect(dump(b)).toBe(dumpB);
}

describe('directory mode on remote replicas', () => {
  it('sftp: <path>/<relpath>/ltx/<level>/, restored by listing the server', async () => {
    const sshd = await Sshd.start();
    cleanups.push(() => sshd.cleanup());
    const remote = mkdtempSync(path.join(os.tmpdir(), 'walship-dir-sftp-'));
    cleanups.push(() => rmSync(remote, { recursive: true, force: true }));
    const yaml = `      url: sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}/tenants\n      key-path: ${sshd.clientKey.privateKeyPath}\n      host-key: "${sshd.hostKeyLine}"\n      sync-interval: 0s\n`;
    await roundTrip(yaml, {}, async () => [...readdirSync(path.join(remote, 'tenants')), ...readdirSync(path.join(remote, 'tenants', 'eu')).map((n) => `eu/${n}`)].sort(), ['a.db', 'eu', 'eu/b.db']);
  });

  it('s3: <prefix>/<relpath>/<level %04x>/, restored by listing the bucket', async () => {
    const server = await S3Server.start();
    cleanups.push(() => server.cleanup());
    const yaml = `      url: s3://${server.bucket}/tenants\n      endpoint: ${server.endpoint}\n      force-path-style: true\n      sync-interval: 0s\n`;
    const env = { ...server.env(), AWS_CA_BUNDLE: '/nonexistent/walship-test-ca-bundle.pem' };
    const roots = async (): Promise<string[]> => [...new Set((await server.keys('tenants/')).map((k) => k.replace(/\/[0-9a-f]{4}\/[^/]+$/, '')))].sort();
    await roundTrip(yaml, env, roots, ['tenants/a.db', 'tenants/eu/b.db']);
  });
});
