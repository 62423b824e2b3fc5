// s3 replicas in configs and URLs: Litestream's forms (URL, type/bucket/path, top-level defaults),
// the AWS_* environment, and refusals that name the key.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { parseReplicaUrl } from '../../src/config/replica-url.js';

const noEnv = {};

function s3Of(yaml: string, env: NodeJS.ProcessEnv = noEnv): { path: string; name: string; s3: Record<string, unknown> } {
  const { config, warnings } = parseConfig(yaml, 'walship.yml', { env });
  expect(warnings).toEqual([]);
  const r = config.dbs[0]!.replicas[0]!;
  expect(r.type).toBe('s3');
  return { path: r.path, name: r.name, s3: r.s3 as unknown as Record<string, unknown> };
}

function errorOf(yaml: string, env: NodeJS.ProcessEnv = noEnv): string {
  try {
    parseConfig(yaml, 'walship.yml', { env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('s3 URLs', () => {
  it('takes the bucket from the host and the key prefix from the path', () => {
    expect(parseReplicaUrl('s3://my-bucket/a/b/cache.db')).toMatchObject({ type: 's3', bucket: 'my-bucket', path: 'a/b/cache.db', endpoint: null, region: null });
  });

  it('reads bucket.host:port as a local plain-http server with path-style requests', () => {
    expect(parseReplicaUrl('s3://backups.localhost:9000/db')).toMatchObject({ bucket: 'backups', endpoint: 'http://localhost:9000', forcePathStyle: true, path: 'db' });
  });

  it('reads AWS virtual-host names, with the region', () => {
    expect(parseReplicaUrl('s3://b1.s3.eu-west-1.amazonaws.com/x')).toMatchObject({ bucket: 'b1', region: 'eu-west-1', endpoint: null });
  });

  it('takes endpoint, region, force-path-style, skip-verify, part-size and concurrency from the query (either spelling)', () => {
    expect(parseReplicaUrl('s3://b/x?endpoint=127.0.0.1:7070&region=r1&forcePathStyle=false&skip-verify=true&part-size=10MiB&concurrency=3')).toMatchObject({
      endpoint: 'http://127.0.0.1:7070',
      region: 'r1',
      forcePathStyle: false,
      skipVerify: true,
      partSize: 10 * 1024 * 1024,
      concurrency: 3,
    });
    expect(parseReplicaUrl('s3://b/x?endpoint=storage.example.com')).toMatchObject({ endpoint: 'https://storage.example.com', forcePathStyle: true });
  });

  it.each([
    ['s3:///x', /needs a bucket/],
    ['s3://k:topsecret@b/x', /must not hold credentials/],
    ['s3://b/x?concurrency=0', /concurrency=0 is not a positive integer/],
    ['s3://b/x?skipVerify=maybe', /is not true or false/],
  ])('refuses %j', (text, re) => {
    let message = '';
    try {
      parseReplicaUrl(text);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(re);
    expect(message).not.toContain('topsecret');
  });
});

describe('s3 replicas in configs', () => {
  it('reads a Litestream v0.5 config with an S3-compatible replica (type/bucket/path form)', () => {
    const r = s3Of(`dbs:
  - path: /data/cache.db
    replica:
      type: s3
      bucket: backups
      path: cache.db
      endpoint: http://minio:9000
      region: us-west-2
      access-key-id: AKIDEXAMPLE
      secret-access-key: wJalrXUtnFEMI
      force-path-style: true
      part-size: 8MB
      concurrency: 4
      sync-interval: 1s
`);
    expect(r.path).toBe('cache.db');
    expect(r.name).toBe('s3');
    expect(r.s3).toMatchObject({
      bucket: 'backups',
      endpoint: 'http://minio:9000',
      region: 'us-west-2',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' },
      partSize: 8_000_000,
      concurrency: 4,
      skipVerify: false,
    });
  });

  it('defaults: Litestream part size and concurrency, path-style with an endpoint, the SDK chain for credentials', () => {
    expect(s3Of('dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n').s3).toMatchObject({ partSize: 5 * 1024 * 1024, concurrency: 5, forcePathStyle: false, credentials: null, region: null, endpoint: null });
    expect(s3Of('dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      endpoint: https://s3.example.net\n').s3).toMatchObject({ forcePathStyle: true });
  });

  it('takes top-level S3 keys as defaults for every s3 replica, the replica winning', () => {
    const { config } = parseConfig(
      `access-key-id: TOPKEY
secret-access-key: TOPSECRET
endpoint: http://127.0.0.1:7070
region: r-top
dbs:
  - path: /a.db
    replicas:
      - url: s3://b/one
      - url: s3://b/two
        region: r-own
      - url: file:///backup/a
`,
      'walship.yml',
      { env: noEnv },
    );
    const [one, two, file] = config.dbs[0]!.replicas;
    expect(one!.s3).toMatchObject({ endpoint: 'http://127.0.0.1:7070', region: 'r-top', credentials: { accessKeyId: 'TOPKEY', secretAccessKey: 'TOPSECRET' } });
    expect(two!.s3).toMatchObject({ region: 'r-own' });
    expect([one!.name, two!.name, file!.name]).toEqual(['s30', 's31', 'file']);
    expect(file!.s3).toBeNull();
  });

  it('uses the AWS_* environment for region, endpoint and (through LITESTREAM_*) keys; AWS_CA_BUNDLE is kept for https', () => {
    const env = { AWS_REGION: 'eu-north-1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', LITESTREAM_ACCESS_KEY_ID: 'LK', LITESTREAM_SECRET_ACCESS_KEY: 'LS', AWS_CA_BUNDLE: '/etc/ca.pem' };
    expect(s3Of('dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n', env).s3).toMatchObject({
      region: 'eu-north-1',
      endpoint: 'http://127.0.0.1:9',
      forcePathStyle: true,
      credentials: { accessKeyId: 'LK', secretAccessKey: 'LS' },
      caBundlePath: '/etc/ca.pem',
    });
    // With AWS_ACCESS_KEY_ID set, the SDK's own chain reads it (and AWS_SESSION_TOKEN).
    expect(s3Of('dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n', { ...env, AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'B' }).s3).toMatchObject({ credentials: null });
  });

  it('an S3 and an SFTP replica side by side', () => {
    const { config } = parseConfig('dbs:\n  - path: /a.db\n    replicas:\n      - url: s3://b/p\n      - url: sftp://u@h/p\n', 'walship.yml', { env: noEnv });
    expect(config.dbs[0]!.replicas.map((r) => [r.type, r.name])).toEqual([
      ['s3', 's3'],
      ['sftp', 'sftp'],
    ]);
  });

  it.each([
    ['no path in the bucket', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b\n', /dbs\[0\]\.replica\.path: an s3 replica needs a path inside the bucket/],
    ['no bucket', 'dbs:\n  - path: /a.db\n    replica:\n      type: s3\n      path: p\n', /dbs\[0\]\.replica\.bucket: an s3 replica needs a bucket/],
    ['url and path', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      path: q\n', /dbs\[0\]\.replica\.path: an s3 replica takes either url:/],
    ['key without secret', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      access-key-id: K\n', /dbs\[0\]\.replica\.secret-access-key: access-key-id and secret-access-key go together/],
    ['part size too small', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      part-size: 1MB\n', /part-size: 1000000 bytes is below the S3 minimum part size of 5 MiB/],
    ['bad endpoint', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      endpoint: "ftp://x"\n', /endpoint: "ftp:\/\/x" is not an http\(s\):\/\/host\[:port\] URL/],
    ['s3 key on an sftp replica', 'dbs:\n  - path: /a.db\n    replica:\n      url: sftp://u@h/p\n      bucket: b\n', /dbs\[0\]\.replica\.bucket: only applies to s3 replicas/],
    ['sftp key on an s3 replica', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      host-key: x\n', /dbs\[0\]\.replica\.host-key: only applies to sftp replicas/],
    ['server-side encryption', 'dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      sse-kms-key-id: k\n', /sse-kms-key-id: server-side encryption settings are not supported/],
  ])('refuses %s, naming the key', (_label, yaml, re) => {
    expect(errorOf(yaml)).toMatch(re);
  });

  it('never prints the secret in a refusal', () => {
    const msg = errorOf('dbs:\n  - path: /a.db\n    replica:\n      url: s3://b/p\n      secret-access-key: sEcReT-value\n');
    expect(msg).toMatch(/access-key-id and secret-access-key go together/);
    expect(msg).not.toContain('sEcReT-value');
  });
});
