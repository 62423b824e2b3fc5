// Who may talk to whom: host key verification (pinned key, known_hosts in OpenSSH's own formats,
// unknown and changed keys) and client authentication (keys, passphrases, ~/.ssh defaults), against
// a real OpenSSH sshd. Secrets must never show up in errors or logs.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { SftpSettings } from '../../src/config/types.js';
import { ReplicaError } from '../../src/replica/client.js';
import { SftpReplicaClient, type SftpReplicaOptions } from '../../src/replica/sftp.js';
import { captureLogger, errorOf, ltxFixture, remoteNames, tempDir } from '../helpers/sftp-fixtures.js';
import { generateKey, keyOnly, Sshd } from '../helpers/sshd.js';

const run = promisify(execFile);

let sshd: Sshd;
let work: string;
let serverFingerprint: string;
const clients: SftpReplicaClient[] = [];

function client(settings: SftpSettings, root: string, opts: SftpReplicaOptions = {}): SftpReplicaClient {
  const c = new SftpReplicaClient(settings, root, opts);
  clients.push(c);
  return c;
}

/** The fingerprint as OpenSSH's own ssh-keygen prints it, to check ours independently. */
async function sshKeygenFingerprint(pubFile: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]);
  return stdout.split(/\s+/)[1]!;
}

async function writeFile(name: string, text: string): Promise<string> {
  const file = path.join(work, name);
  await fsp.writeFile(file, text);
  return file;
}

/** A write that must succeed, then the file is really there. */
async function expectWorks(c: SftpReplicaClient, root: string): Promise<void> {
  const f = await ltxFixture(work, 0, 1, 1, 5000);
  await c.writeLtxFile(f.info, f.localPath);
  expect(await c.listLtxFiles(0)).toEqual([f.info]);
  expect(await remoteNames(root, 0)).toEqual(['0000000000000001-0000000000000001.ltx']);
}

let roots = 0;
function newRoot(): string {
  return path.join(work, `replica-${++roots}`);
}

beforeAll(async () => {
  sshd = await Sshd.start();
  work = await tempDir('sftp-auth');
  serverFingerprint = await sshKeygenFingerprint(`${sshd.hostKey.privateKeyPath}.pub`);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await sshd?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe('host key verification', () => {
  test('a pinned host-key that matches is accepted', async () => {
    const root = newRoot();
    await expectWorks(client(sshd.settings(), root), root);
  });

  test('a wrong host key is refused with both fingerprints, before anything is uploaded', async () => {
    const other = await generateKey(work, 'impostor');
    const wantFingerprint = await sshKeygenFingerprint(`${other.privateKeyPath}.pub`);
    const root = newRoot();
    const before = (sshd.logs.match(/Accepted publickey/g) ?? []).length;
    const c = client(sshd.settings({ hostKey: other.publicKey }), root);
    const f = await ltxFixture(work, 0, 1, 1, 100);
    const err = await errorOf(c.writeLtxFile(f.info, f.localPath));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toContain('host key mismatch');
    expect(err.message).toContain(wantFingerprint);
    expect(err.message).toContain(serverFingerprint);
    expect(err.message).toContain(c.location);
    await expect(fsp.stat(root)).rejects.toThrow(/ENOENT/);
    // The client never even authenticated.
    expect((sshd.logs.match(/Accepted publickey/g) ?? []).length).toBe(before);
  });

  test('a changed key in known_hosts is refused with both fingerprints', async () => {
    const other = await generateKey(work, 'old-host-key');
    const kh = await writeFile('known_hosts_changed', `[127.0.0.1]:${sshd.port} ${keyOnly(other.publicKey)}\n`);
    const c = client(sshd.settings({ hostKey: null, knownHostsPath: kh }), newRoot());
    const err = await errorOf(c.listLtxFiles(0));
    expect(err.message).toContain(await sshKeygenFingerprint(`${other.privateKeyPath}.pub`));
    expect(err.message).toContain(serverFingerprint);
    expect(err.message).toContain(`${kh}:1`);
  });

  test('an unknown host is refused with the ssh-keyscan command that fetches its key', async () => {
    const other = await generateKey(work, 'elsewhere');
    const kh = await writeFile('known_hosts_other', `otherhost.example ${keyOnly(other.publicKey)}\n[127.0.0.1]:1 ${keyOnly(other.publicKey)}\n`);
    const root = newRoot();
    const c = client(sshd.settings({ hostKey: null, knownHostsPath: kh }), root);
    const f = await ltxFixture(work, 0, 1, 1, 100);
    const err = await errorOf(c.writeLtxFile(f.info, f.localPath));
    expect(err.message).toContain('unknown');
    expect(err.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1`);
    expect(err.message).toContain(serverFingerprint);
    await expect(fsp.stat(root)).rejects.toThrow(/ENOENT/);

    const missing = client(sshd.settings({ hostKey: null, knownHostsPath: path.join(work, 'no-such-known-hosts') }), root);
    const err2 = await errorOf(missing.listLtxFiles(0));
    expect(err2.message).toMatch(/no-such-known-hosts does not exist/);
    expect(err2.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1`);
  });

  test('known_hosts from ssh-keyscan is accepted: plain [127.0.0.1]:PORT and hashed entries', async () => {
    const plain = await sshd.keyscan();
    expect(plain).toContain(`[127.0.0.1]:${sshd.port} ssh-ed25519 `);
    const hashed = await sshd.keyscan({ hashed: true });
    expect(hashed).toMatch(/^\|1\|/m);
    expect(hashed).not.toContain('127.0.0.1');
    const other = await generateKey(work, 'noise');
    for (const [name, text] of [
      ['known_hosts_plain', plain],
      ['known_hosts_hashed', hashed],
      // Other hosts, comments, a CA line and a revoked unrelated key around the real entry.
      [
        'known_hosts_mixed',
        `# comment\nexample.org ${keyOnly(other.publicKey)}\n@cert-authority *.example.org ${keyOnly(other.publicKey)}\n` +
          `@revoked * ${keyOnly(other.publicKey)}\n\n${hashed}`,
      ],
      ['known_hosts_wildcard', `[127.0.0.?]:${sshd.port},!10.0.0.1 ${sshd.hostKeyLine}\n`],
    ] as const) {
      const root = newRoot();
      const kh = await writeFile(name, text);
      await expectWorks(client(sshd.settings({ hostKey: null, knownHostsPath: kh }), root), root);
    }
  });

  test('a key marked @revoked is refused even when also listed as known', async () => {
    const kh = await writeFile('known_hosts_revoked', `${sshd.knownHostsLine}\n@revoked * ${sshd.hostKeyLine}\n`);
    const err = await errorOf(client(sshd.settings({ hostKey: null, knownHostsPath: kh }), newRoot()).listLtxFiles(0));
    expect(err.message).toContain('@revoked');
    expect(err.message).toContain(serverFingerprint);
  });

  test('insecure-skip-host-key-check connects and warns on every connect', async () => {
    const { logger, lines } = captureLogger();
    const root = newRoot();
    const settings = sshd.settings({ hostKey: null, knownHostsPath: path.join(work, 'absent'), insecureSkipHostKeyCheck: true });
    const c = client(settings, root, { logger });
    await expectWorks(c, root);
    await c.close();
    await c.listLtxFiles(0);
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; event?: string; hostKey?: string }).filter((l) => l.event === 'host_key_unverified');
    expect(warnings).toHaveLength(2);
    expect(warnings.every((w) => w.level === 40 && w.hostKey === serverFingerprint)).toBe(true);
  });

  test('a malformed host-key is a configuration error at construction', () => {
    expect(() => new SftpReplicaClient(sshd.settings({ hostKey: 'ssh-ed25519 not-base64!' }), '/x')).toThrow(/host-key is not a public key line/);
  });
});

describe('client authentication', () => {
  test('a passphrase-protected key works, and the passphrase never appears in errors or logs', async () => {
    const passphrase = 'correct-horse-battery-staple-7f3a';
    const key = await generateKey(work, 'protected', { passphrase });
    await sshd.authorize(key.publicKey);
    const { logger, text } = captureLogger();
    const root = newRoot();
    await expectWorks(client(sshd.settings({ keyPath: key.privateKeyPath, keyPassphrase: passphrase }), root, { logger }), root);

    const messages: string[] = [];
    const wrong = `${passphrase}-wrong`;
    for (const kp of [wrong, null]) {
      const c = client(sshd.settings({ keyPath: key.privateKeyPath, keyPassphrase: kp }), newRoot(), { logger });
      const err = await errorOf(c.listLtxFiles(0));
      expect(err).toBeInstanceOf(ReplicaError);
      expect(err.message).toContain(key.privateKeyPath);
      messages.push(err.message, String(err.stack), String((err.cause as Error | undefined)?.message));
    }
    expect(messages[0]).toMatch(/cannot decrypt private key .*wrong key-passphrase/);
    expect(messages[3]).toMatch(/is encrypted: set key-passphrase/);
    for (const m of [...messages, text()]) {
      expect(m).not.toContain(passphrase);
      expect(m).not.toContain('correct-horse');
    }
  });

  test('a password never appears in the location, errors or logs', async () => {
    const password = 'hunter2-s3cret-pw';
    const { logger, text } = captureLogger();
    // This sshd allows no passwords, so authentication fails; the message must still keep the secret.
    const stranger = await generateKey(work, 'stranger-pw');
    const c = client(sshd.settings({ keyPath: stranger.privateKeyPath, password }), newRoot(), { logger });
    const err = await errorOf(c.listLtxFiles(0));
    expect(err.message).toMatch(/authentication failed .*publickey.*password/);
    expect(c.location).not.toContain(password);
    expect(err.message).not.toContain(password);
    expect(text()).not.toContain(password);
  });

  test('a key the server does not know gives a clear authentication error', async () => {
    const stranger = await generateKey(work, 'stranger');
    const c = client(sshd.settings({ keyPath: stranger.privateKeyPath }), newRoot());
    const err = await errorOf(c.listLtxFiles(0));
    expect(err).toBeInstanceOf(ReplicaError);
    expect(err.message).toContain(`authentication failed for user "${sshd.user}"`);
    expect(err.message).toContain(stranger.privateKeyPath);
  });

  test('without key-path and known-hosts-path, ~/.ssh/id_ed25519 and ~/.ssh/known_hosts are used', async () => {
    const home = await tempDir('home');
    const savedHome = process.env.HOME;
    try {
      await fsp.mkdir(path.join(home, '.ssh'), { mode: 0o700 });
      await fsp.copyFile(sshd.clientKey.privateKeyPath, path.join(home, '.ssh', 'id_ed25519'));
      await fsp.writeFile(path.join(home, '.ssh', 'known_hosts'), await sshd.keyscan({ hashed: true }));
      process.env.HOME = home;
      const settings = sshd.settings({ keyPath: null, hostKey: null, knownHostsPath: null });
      const root = newRoot();
      await expectWorks(client(settings, root), root);

      // Then id_ecdsa, then id_rsa, when the ones before are missing.
      await fsp.rm(path.join(home, '.ssh', 'id_ed25519'));
      const rsa = await generateKey(path.join(home, '.ssh'), 'id_rsa', { type: 'rsa' });
      await sshd.authorize(rsa.publicKey);
      const root2 = newRoot();
      await expectWorks(client(settings, root2), root2);

      await fsp.rm(path.join(home, '.ssh', 'id_rsa'));
      const err = await errorOf(client(settings, newRoot()).listLtxFiles(0));
      expect(err.message).toContain('no credentials');
      expect(err.message).toContain(path.join(home, '.ssh', 'id_ed25519'));
    } finally {
      process.env.HOME = savedHome;
      await fsp.rm(home, { recursive: true, force: true });
    }
  });
});
