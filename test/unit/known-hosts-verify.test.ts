// The host key decision and its messages: pinned key, known_hosts (unknown, changed, revoked) and the
// algorithm order offered to the server.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SftpSettings } from '../../src/config/types.js';
import { HostKeyError, hostKeyPolicy, loadHostKeyCheck } from '../../src/replica/host-key.js';
import { parsePublicKeyLine } from '../../src/replica/known-hosts.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7W7EZ1AKfCQ7UYR2Yls4kwnHtPyVfuhaZj4tqFTIBt';
const ED25519_FP = 'SHA256:1IEGMSt6cQgCnX7JJrcXm5spkM+A1wZx9d9kTGFf7Rs';
const ECDSA =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAMiHfHpYUNnAKJnJBWwAci/mpv44SzdGOrSArFI3GlXKUVFME5Tx/p1IIRvFuXMjpqvh3i2ShcUZP16sHx/Gw4=';
const ECDSA_FP = 'SHA256:I1Xe7iq2HewvcgD3kfYEAtcC75cTygvChRT5Id89ZRE';
const HASHED_LOCAL_2222 = '|1|tk3AFcjQeomM/0H8iUEnE9oVQug=|zsD+OSCBiqHbYb0KZJlAMY6k3jU=';

const ed = parsePublicKeyLine(ED25519)!.blob;
const ec = parsePublicKeyLine(ECDSA)!.blob;

let dir: string;

function settings(over: Partial<SftpSettings> = {}): SftpSettings {
  return {
    host: '127.0.0.1',
    port: 2222,
    user: 'u',
    password: null,
    keyPath: null,
    keyPassphrase: null,
    hostKey: null,
    knownHostsPath: null,
    insecureSkipHostKeyCheck: false,
    ...over,
  };
}

async function knownHosts(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

async function checkWith(file: string, host = '127.0.0.1', port = 2222) {
  return loadHostKeyCheck({ kind: 'known-hosts', path: file }, host, port);
}

beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'walship-kh-'));
});

afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('policy', () => {
  test('host-key wins, then known-hosts-path, then ~/.ssh/known_hosts; insecure only when asked', () => {
    expect(hostKeyPolicy(settings({ hostKey: ED25519, knownHostsPath: '/kh' }), '/home/x').kind).toBe('pinned');
    expect(hostKeyPolicy(settings({ knownHostsPath: '/kh' }), '/home/x')).toEqual({ kind: 'known-hosts', path: '/kh' });
    expect(hostKeyPolicy(settings(), '/home/x')).toEqual({ kind: 'known-hosts', path: '/home/x/.ssh/known_hosts' });
    expect(hostKeyPolicy(settings({ insecureSkipHostKeyCheck: true, hostKey: ED25519 }), '/h').kind).toBe('insecure');
  });

  test('a host-key that is no key line is a configuration error', () => {
    expect(() => hostKeyPolicy(settings({ hostKey: 'AAAAC3NzaC1lZDI1NTE5' }), '/h')).toThrow(HostKeyError);
  });
});

describe('pinned key', () => {
  test('accepts the key and reports a mismatch with both fingerprints', async () => {
    const check = await loadHostKeyCheck(hostKeyPolicy(settings({ hostKey: `${ED25519} comment` }), '/h'), '127.0.0.1', 2222);
    expect(check.check(ed)).toBeNull();
    const err = check.check(ec)!;
    expect(err.kind).toBe('mismatch');
    expect(err.message).toContain(`expected ssh-ed25519 ${ED25519_FP}`);
    expect(err.message).toContain(`presented ecdsa-sha2-nistp256 ${ECDSA_FP}`);
    expect(err.message).toContain('[127.0.0.1]:2222');
    expect(check.algorithms?.[0]).toBe('ssh-ed25519');
  });
});

describe('known_hosts', () => {
  test('accepts a matching plain or hashed entry', async () => {
    const plain = await checkWith(await knownHosts('plain', [`[127.0.0.1]:2222 ${ED25519}`]));
    expect(plain.check(ed)).toBeNull();
    const hashed = await checkWith(await knownHosts('hashed', [`${HASHED_LOCAL_2222} ${ED25519}`]));
    expect(hashed.check(ed)).toBeNull();
  });

  test('an unknown host gets the ssh-keyscan hint and the presented fingerprint', async () => {
    const file = await knownHosts('other', [`127.0.0.1 ${ED25519}`, `[127.0.0.1]:2223 ${ED25519}`]);
    const err = (await checkWith(file)).check(ed)!;
    expect(err.kind).toBe('unknown');
    expect(err.message).toContain('ssh-keyscan -p 2222 127.0.0.1');
    expect(err.message).toContain(`${file} has no entry`);
    expect(err.message).toContain(ED25519_FP);
  });

  test('a missing file is an unknown host, said plainly', async () => {
    const err = (await checkWith(path.join(dir, 'nope'))).check(ed)!;
    expect(err.kind).toBe('unknown');
    expect(err.message).toContain('nope does not exist');
  });

  test('a changed key lists what is known, with file and line', async () => {
    const file = await knownHosts('changed', ['# header', `[127.0.0.1]:2222 ${ECDSA}`]);
    const err = (await checkWith(file)).check(ed)!;
    expect(err.kind).toBe('mismatch');
    expect(err.message).toContain(`expected ecdsa-sha2-nistp256 ${ECDSA_FP} (${file}:2)`);
    expect(err.message).toContain(`presented ssh-ed25519 ${ED25519_FP}`);
  });

  test('a key known under several types is accepted; known types are offered first', async () => {
    const file = await knownHosts('both', [`[127.0.0.1]:2222 ${ECDSA}`, `[127.0.0.1]:2222 ${ED25519}`]);
    const check = await checkWith(file);
    expect(check.check(ed)).toBeNull();
    expect(check.check(ec)).toBeNull();
    expect(check.algorithms?.slice(0, 2)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(check.algorithms).toContain('rsa-sha2-512');
  });

  test('@revoked wins over a plain entry; @cert-authority alone does not vouch', async () => {
    const revoked = await knownHosts('revoked', [`[127.0.0.1]:2222 ${ED25519}`, `@revoked * ${ED25519}`]);
    expect((await checkWith(revoked)).check(ed)?.kind).toBe('revoked');
    const ca = await knownHosts('ca', [`@cert-authority [127.0.0.1]:* ${ED25519}`]);
    const err = (await checkWith(ca)).check(ed)!;
    expect(err.kind).toBe('unknown');
    expect(err.message).toContain('@cert-authority');
  });

  test('port 22 uses the plain host name', async () => {
    const file = await knownHosts('port22', [`db.example.com ${ED25519}`]);
    expect((await checkWith(file, 'DB.example.com', 22)).check(ed)).toBeNull();
    expect((await checkWith(file, 'db.example.com', 2222)).check(ed)?.kind).toBe('unknown');
  });

  test('insecure accepts anything', async () => {
    const check = await loadHostKeyCheck({ kind: 'insecure' }, 'h', 22);
    expect(check.check(ec)).toBeNull();
    expect(check.algorithms).toBeNull();
  });
});
