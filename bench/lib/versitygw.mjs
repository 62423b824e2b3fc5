// The bench's S3 server: versitygw (the pinned build scripts/setup-s3.sh puts in .tools/bin, as the
// tests use) on a free 127.0.0.1 port over a directory (each top-level folder a bucket), writing its
// access log: one line per request it handled, naming the bucket and the S3 operation. Counting
// those lines, by bucket, counts each client's requests at the server.
import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../test/kit/ports.mjs';
import { track } from '../../test/kit/procs.mjs';

const START_TIMEOUT_MS = 15_000;

export function versitygwBin(root) {
  const bin = process.env.WALSHIP_VERSITYGW_BIN ?? path.join(root, '.tools', 'bin', 'versitygw');
  if (!existsSync(bin)) throw new Error(`versitygw not found at ${bin}: run scripts/setup-debian.sh (scripts/setup-s3.sh builds it), or set WALSHIP_VERSITYGW_BIN`);
  return bin;
}

/**
 * The request types the bench reports, from versitygw's operation names: PUT, GET, HEAD, LIST,
 * DELETE and multipart (create, part, complete, abort, and listing uploads); anything else "other".
 */
export function requestType(op) {
  if (op === 's3_PutObject' || op === 's3_CopyObject') return 'PUT';
  if (op === 's3_GetObject') return 'GET';
  if (op === 's3_HeadObject' || op === 's3_HeadBucket') return 'HEAD';
  if (op === 's3_ListObjectsV2' || op === 's3_ListObjects' || op === 's3_ListObjectVersions') return 'LIST';
  if (op === 's3_DeleteObject' || op === 's3_DeleteObjects') return 'DELETE';
  if (/^s3_(CreateMultipartUpload|UploadPart|CompleteMultipartUpload|AbortMultipartUpload|ListMultipartUploads|ListParts)$/.test(op)) return 'multipart';
  return 'other';
}

export const REQUEST_TYPES = ['PUT', 'GET', 'HEAD', 'LIST', 'DELETE', 'multipart', 'other'];

/** { PUT: n, GET: n, ... } for the access-log lines given, counting only `bucket`'s. */
export function countByType(lines, bucket) {
  const out = Object.fromEntries(REQUEST_TYPES.map((t) => [t, 0]));
  const ops = {};
  for (const l of lines) {
    // "<owner> <bucket> [<time>] <ip> <requester> <id> s3_<Operation> ..."
    const m = /^\S+ (\S+) \[[^\]]*\] \S+ \S+ \S+ (s3_[A-Za-z0-9]+)\s/.exec(l);
    if (!m || m[1] !== bucket) continue;
    out[requestType(m[2])]++;
    ops[m[2]] = (ops[m[2]] ?? 0) + 1;
  }
  return { byType: out, byOperation: ops, total: Object.values(out).reduce((a, b) => a + b, 0) };
}

export class Versitygw {
  accessKey = 'walship-bench-access';
  secretKey = 'walship-bench-secret-Hq2r9d';
  child = null;

  constructor(bin, dir, port) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
  }

  static async start(root, dir, buckets) {
    for (const b of buckets) await fsp.mkdir(path.join(dir, 'data', b), { recursive: true });
    const s = new Versitygw(versitygwBin(root), dir, await freePort());
    await s.#launch();
    return s;
  }

  get endpoint() {
    return `http://127.0.0.1:${this.port}`;
  }

  get accessLogPath() {
    return path.join(this.dir, 'access.log');
  }

  /** The environment a client of this server needs: its keys; no CA bundle or proxy of this machine's. */
  env() {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: this.accessKey, AWS_SECRET_ACCESS_KEY: this.secretKey, AWS_REGION: 'us-east-1' };
    for (const k of ['AWS_CA_BUNDLE', 'HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy', 'AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3']) delete env[k];
    return env;
  }

  async #launch() {
    // prettier-ignore
    const args = ['--access', this.accessKey, '--secret', this.secretKey, '--port', `127.0.0.1:${this.port}`, '--quiet', '--access-log', this.accessLogPath, 'posix', path.join(this.dir, 'data')];
    const child = track(spawn(this.bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir } }));
    this.child = child;
    let output = '';
    child.stderr.on('data', (d) => {
      if (output.length < 20_000) output += d.toString();
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(this.port))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`versitygw exited at start: ${output}`);
      if (Date.now() > deadline) throw new Error(`versitygw did not listen on 127.0.0.1:${this.port} within ${START_TIMEOUT_MS} ms: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Byte offset into the access log: lines written from now on are past it. */
  async mark() {
    return (await fsp.stat(this.accessLogPath).catch(() => ({ size: 0 }))).size;
  }

  /** Access-log lines written since `mark` (and before `until`, another mark, when given). */
  async linesSince(mark, until = null) {
    const fh = await fsp.open(this.accessLogPath, 'r').catch(() => null);
    if (!fh) return [];
    try {
      const end = until ?? (await fh.stat()).size;
      const buf = Buffer.alloc(Math.max(0, end - mark));
      await fh.read(buf, 0, buf.length, mark);
      return buf.toString('utf8').split('\n').filter(Boolean);
    } finally {
      await fh.close();
    }
  }

  async stop() {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
