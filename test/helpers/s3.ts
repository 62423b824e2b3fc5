// A real S3 server for integration tests: versitygw (built by scripts/setup-s3.sh into .tools/bin),
// serving a temporary directory on a free 127.0.0.1 port, each top-level folder a bucket. It writes
// an access log (one line per request), which is how tests count requests, and it can be killed
// (-9) and restarted on the same port over the same data.
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { S3Settings } from '../../src/config/types.js';
import type { ReplicaClient } from '../../src/replica/client.js';
import { S3ReplicaClient } from '../../src/replica/s3.js';
import { freePort } from './ports.js';
import { repoRoot, track } from './processes.js';

export const VERSITYGW_VERSION = 'v1.8.0';
const START_TIMEOUT_MS = 15_000;

/** The binary's path; a clear error (not a skip) when setup has not built it. */
export function versitygwBin(): string {
  const bin = process.env.WALSHIP_VERSITYGW_BIN ?? path.join(repoRoot, '.tools', 'bin', 'versitygw');
  if (!existsSync(bin)) {
    throw new Error(`versitygw ${VERSITYGW_VERSION} not found at ${bin}: run scripts/setup-debian.sh (scripts/setup-s3.sh builds it with Go), or set WALSHIP_VERSITYGW_BIN`);
  }
  return bin;
}

export interface S3ServerOptions {
  buckets?: string[];
  /** Serve https with this certificate and key (PEM files). */
  tls?: { certPath: string; keyPath: string };
}

export class S3Server {
  readonly accessKey = 'walship-test-access';
  readonly secretKey = 'walship-test-secret-Zq8v3k';
  readonly bucket: string;
  private child: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly buckets: string[],
    private readonly tls: S3ServerOptions['tls'] = undefined,
  ) {
    this.bucket = buckets[0]!;
  }

  static async start(opts: S3ServerOptions = {}): Promise<S3Server> {
    versitygwBin();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-s3-'));
    const buckets = opts.buckets ?? ['walship'];
    for (const b of buckets) mkdirSync(path.join(dir, 'data', b), { recursive: true });
    const server = new S3Server(dir, await freePort(), buckets, opts.tls);
    await server.restart();
    return server;
  }

  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get accessLogPath(): string {
    return path.join(this.dir, 'access.log');
  }

  get logs(): string {
    return this.output;
  }

  /** Starts (again) on the same port and data, and waits until it accepts connections. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('versitygw is already running');
    const child = track(
      spawn(
        versitygwBin(),
        [
          '--access', this.accessKey, '--secret', this.secretKey, '--port', `127.0.0.1:${this.port}`, '--quiet', '--access-log', this.accessLogPath,
          ...(this.tls ? ['--cert', this.tls.certPath, '--key', this.tls.keyPath] : []),
          'posix', this.dataDir,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir } },
      ),
    );
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(this.port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`versitygw exited at start: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`versitygw did not listen on 127.0.0.1:${this.port} within ${START_TIMEOUT_MS} ms: ${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9: connections drop mid-request, as when the server's machine goes away. */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c) return;
    const exited = once(c, 'exit');
    c.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  /** Requests the server has logged so far (one access-log line each), by operation name. */
  requests(): string[] {
    if (!existsSync(this.accessLogPath)) return [];
    return readFileSync(this.accessLogPath, 'utf8')
      .split('\n')
      .map((l) => /\s(s3_[A-Za-z0-9]+)\s/.exec(l)?.[1])
      .filter((op): op is string => !!op);
  }

  /** The environment a child process needs for this server: its keys, no CA bundle, no proxy. */
  env(): Record<string, string | undefined> {
    return {
      AWS_ACCESS_KEY_ID: this.accessKey,
      AWS_SECRET_ACCESS_KEY: this.secretKey,
      AWS_REGION: 'us-east-1',
      AWS_CA_BUNDLE: undefined,
      HTTPS_PROXY: undefined,
      HTTP_PROXY: undefined,
      https_proxy: undefined,
      http_proxy: undefined,
    };
  }

  /** Replica settings for an in-process client. */
  settings(bucket = this.bucket): S3Settings {
    return {
      bucket,
      region: 'us-east-1',
      endpoint: this.endpoint,
      forcePathStyle: true,
      skipVerify: false,
      credentials: { accessKeyId: this.accessKey, secretAccessKey: this.secretKey },
      partSize: 5 * 1024 * 1024,
      concurrency: 5,
      storageClass: null,
      caBundlePath: null,
    };
  }

  /** A plain SDK client, for looking at the bucket from outside walship. */
  sdk(): S3Client {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    return new S3Client({
      region: 'us-east-1',
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: this.accessKey, secretAccessKey: this.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** Every object key under `prefix`, sorted. */
  async keys(prefix: string, bucket = this.bucket): Promise<string[]> {
    const s3 = this.sdk();
    try {
      const out: string[] = [];
      let token: string | undefined;
      for (let i = 0; i < 1_000; i++) {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        out.push(...(r.Contents ?? []).map((o) => o.Key!));
        if (!r.IsTruncated) break;
        token = r.NextContinuationToken;
      }
      return out.sort();
    } finally {
      s3.destroy();
    }
  }

  /** Multipart uploads in progress under `prefix`. */
  async multipartUploads(prefix: string, bucket = this.bucket): Promise<string[]> {
    const s3 = this.sdk();
    try {
      const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
      return (r.Uploads ?? []).map((u) => u.Key!);
    } finally {
      s3.destroy();
    }
  }

  async cleanup(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

let fixtureSeq = 0;

/**
 * For the replica contract suite: a fresh versitygw and an S3 replica client on an empty prefix of
 * its bucket. `cleanup` closes the client and removes the server and its data.
 */
export async function createS3ReplicaFixture(): Promise<{ client: ReplicaClient; cleanup: () => Promise<void>; server: S3Server }> {
  const server = await S3Server.start();
  const client = new S3ReplicaClient(server.settings(), `contract-${process.pid}-${++fixtureSeq}/db`);
  return {
    client,
    server,
    cleanup: async () => {
      await client.close(1_000);
      await server.cleanup();
    },
  };
}
