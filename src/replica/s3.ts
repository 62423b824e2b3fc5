// A replica in an S3 bucket (AWS or any S3-compatible server), laid out as Litestream v0.5's s3
// backend lays it out: <path>/<level %04x>/<min>-<max>.ltx, each object's LTX header timestamp in
// its metadata ("litestream-timestamp", RFC 3339), which is what point-in-time restore reads.
//
// Requests are made only by the operations below: nothing runs in the background, so an idle
// replicator sends none. The SDK retries a failed request a few times; the shipper backs off beyond.
import type { S3Client } from '@aws-sdk/client-s3';
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { S3Settings } from '../config/types.js';
import { ReplicaConflictError, ReplicaError, type FenceRead, type LtxFileInfo, type ReplicaClient } from './client.js';
import { describeFile, fenceFilePath, levelDir, ltxFilePath, parseLtxFileName, type LtxFileId } from './layout.js';
import { isHttpEndpoint } from './s3-connect.js';
import { leaseS3Client, type S3ClientLease } from './s3-pool.js';
import { describeS3Error, isAborted, isConditionUnsupported, isNotFound, isPreconditionFailed, type S3Where } from './s3-errors.js';
import { abortStaleUploads, abortUpload, uploadFile } from './s3-upload.js';
import { downloadRanges, readBody } from './s3-download.js';
import { loadS3Sdk } from './s3-sdk.js';
import { settledWithin } from '../util/settle.js';

/** The metadata key Litestream keeps each file's timestamp under. */
export const TIMESTAMP_METADATA_KEY = 'litestream-timestamp';

export interface S3ReplicaOptions {
  logger?: Logger;
  /** Bytes per ranged GET of a download (default 4 MiB). */
  rangeSize?: number;
  /** How long close() waits for operations in flight before aborting them (default 15 s). */
  closeTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const HEAD_CONCURRENCY = 16;

export class S3ReplicaClient implements ReplicaClient {
  readonly type = 's3';
  readonly location: string;
  private readonly root: string;
  private readonly where: S3Where;
  private readonly log: Logger | undefined;
  private s3: Promise<S3Client> | null = null;
  private s3Lease: S3ClientLease | null = null;
  private stop = newStop();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Header timestamps known for keys (from our own uploads or a HEAD), by key and ETag. */
  private readonly times = new Map<string, { etag: string | undefined; createdAt: Date }>();
  /** Stale multipart uploads are aborted once, before this client's first upload. */
  private swept: Promise<void> | null = null;
  /** Multipart uploads whose abort failed; retried before the next upload. */
  private readonly unaborted = new Map<string, string>();
  /** Off once the server said it does not do conditional writes. */
  private conditionalWrites = true;

  constructor(
    private readonly settings: S3Settings,
    prefix: string,
    private readonly opts: S3ReplicaOptions = {},
  ) {
    this.root = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
    this.location = `s3://${settings.bucket}/${this.root}`;
    this.where = { bucket: settings.bucket, endpoint: settings.endpoint, region: settings.region };
    this.log = opts.logger?.child({ replica: this.location });
  }

  private client(): Promise<S3Client> {
    if (!this.s3) {
      // One client per endpoint and credentials, shared with the other replicas using them (s3-pool.ts).
      const lease = leaseS3Client(this.settings, {
        onUnverifiedConnect: (host) => this.warnUnverified(host),
        ...(this.opts.requestTimeoutMs ? { requestTimeoutMs: this.opts.requestTimeoutMs } : {}),
      });
      this.s3Lease = lease;
      this.s3 = lease.client;
      this.s3.catch(() => {
        if (this.s3Lease === lease) {
          lease.release();
          this.s3Lease = null;
          this.s3 = null;
        }
      });
      if (this.settings.caBundlePath && isHttpEndpoint(this.settings)) {
        this.log?.debug({ event: 's3_ca_bundle_ignored' }, 'AWS_CA_BUNDLE is set but the endpoint is plain http; it is not used');
      }
    }
    return this.s3;
  }

  private key(info: LtxFileId): string {
    return ltxFilePath(this.root, info, 's3');
  }

  async listLtxFiles(level: number): Promise<LtxFileInfo[]> {
    const prefix = `${levelDir(this.root, level, 's3')}/`;
    return this.run(`list ${levelDir('', level, 's3')}`, async (signal) => {
      const s3 = await this.client();
      const { ListObjectsV2Command } = await loadS3Sdk();
      const found: Array<{ key: string; etag: string | undefined; info: LtxFileInfo }> = [];
      let token: string | undefined;
      for (let page = 0; page < 100_000; page++) {
        const out = await s3.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
        for (const o of out.Contents ?? []) {
          if (!o.Key) continue;
          const r = parseLtxFileName(o.Key.slice(prefix.length));
          if (!r) continue;
          found.push({ key: o.Key, etag: o.ETag, info: { level, ...r, size: o.Size ?? 0, createdAt: o.LastModified ?? new Date(0) } });
        }
        if (!out.IsTruncated || !out.NextContinuationToken) break;
        token = out.NextContinuationToken;
      }
      await this.fillTimestamps(found, signal);
      return found.map((f) => f.info).sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
    });
  }

  /** Header timestamps from object metadata, by HEAD for keys this client has not seen yet. */
  private async fillTimestamps(found: Array<{ key: string; etag: string | undefined; info: LtxFileInfo }>, signal: AbortSignal): Promise<void> {
    const live = new Set(found.map((f) => f.key));
    for (const k of [...this.times.keys()]) if (k.startsWith(`${this.root}/`) && !live.has(k)) this.times.delete(k);
    const unknown = found.filter((f) => {
      const t = this.times.get(f.key);
      if (t && t.etag === f.etag) {
        f.info.createdAt = t.createdAt;
        return false;
      }
      return true;
    });
    const { HeadObjectCommand } = await loadS3Sdk();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < unknown.length) {
        const f = unknown[next++]!;
        try {
          const head = await (await this.client()).send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: f.key }), { abortSignal: signal });
          const ts = parseTimestamp(head.Metadata?.[TIMESTAMP_METADATA_KEY]);
          // Without the metadata (an object some other tool wrote), its upload time is the best there is.
          if (ts) f.info.createdAt = ts;
          this.times.set(f.key, { etag: f.etag, createdAt: f.info.createdAt });
        } catch (err) {
          if (!isNotFound(err)) throw err; // deleted since the listing: keep what the listing said
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, unknown.length) }, worker));
  }

  async writeLtxFile(info: LtxFileInfo, localPath: string, opts: { exclusive?: boolean } = {}): Promise<void> {
    const key = this.key(info);
    await this.run(`write ${describeFile(info, 's3')}`, async (signal) => {
      await this.prepareUploads(signal);
      const exclusive = opts.exclusive === true;
      if (exclusive && !this.conditionalWrites && (await this.exists(key, signal))) {
        return this.checkSame(info, key, localPath, signal);
      }
      let etag: string | undefined;
      try {
        etag = await this.upload(key, info, localPath, exclusive && this.conditionalWrites, signal);
      } catch (err) {
        if (exclusive && isPreconditionFailed(err)) return this.checkSame(info, key, localPath, signal);
        if (!(exclusive && isConditionUnsupported(err))) throw err;
        this.conditionalWrites = false;
        this.log?.warn({ event: 's3_no_conditional_writes' }, 'the server does not support If-None-Match on uploads; level-0 uploads check for an existing object first instead');
        if (await this.exists(key, signal)) return this.checkSame(info, key, localPath, signal);
        etag = await this.upload(key, info, localPath, false, signal);
      }
      this.times.set(key, { etag, createdAt: info.createdAt });
    });
  }

  private async upload(key: string, info: LtxFileInfo, localPath: string, ifNoneMatch: boolean, signal: AbortSignal): Promise<string | undefined> {
    return uploadFile(
      await this.client(),
      { bucket: this.settings.bucket, key, metadata: { [TIMESTAMP_METADATA_KEY]: info.createdAt.toISOString() }, storageClass: this.settings.storageClass },
      localPath,
      {
        partSize: this.settings.partSize,
        concurrency: this.settings.concurrency,
        ifNoneMatch,
        signal,
        onAbortFailed: (uploadId) => this.unaborted.set(uploadId, key),
      },
    );
  }

  /** Before the first upload: abort what a killed predecessor left; before any: retry failed aborts. */
  private async prepareUploads(signal: AbortSignal): Promise<void> {
    this.swept ??= (async () => {
      const aborted = await abortStaleUploads(await this.client(), this.settings.bucket, `${this.root}/`, signal);
      if (aborted.length > 0) this.log?.info({ event: 's3_stale_uploads_aborted', count: aborted.length, keys: aborted.slice(0, 10) }, 'aborted multipart uploads an earlier run left unfinished');
    })().catch((err: unknown) => {
      this.swept = null;
      throw err;
    });
    await this.swept;
    for (const [uploadId, key] of [...this.unaborted]) {
      await abortUpload(await this.client(), this.settings.bucket, key, uploadId).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      this.unaborted.delete(uploadId);
    }
  }

  private async exists(key: string, signal: AbortSignal): Promise<boolean> {
    const { HeadObjectCommand } = await loadS3Sdk();
    try {
      await (await this.client()).send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** The key is taken: fine if it holds our bytes (an earlier upload whose answer was lost). */
  private async checkSame(info: LtxFileInfo, key: string, localPath: string, signal: AbortSignal): Promise<void> {
    const [theirs, ours] = await Promise.all([this.getWhole(key, signal), readFile(localPath)]);
    if (!theirs.equals(ours)) {
      throw new ReplicaConflictError(this.location, `${describeFile(info, 's3')} already exists with different contents: another replicator is writing to this replica`);
    }
    this.times.set(key, { etag: undefined, createdAt: info.createdAt });
  }

  private async getWhole(key: string, signal: AbortSignal): Promise<Buffer> {
    const { GetObjectCommand } = await loadS3Sdk();
    const out = await (await this.client()).send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal });
    return readBody(out.Body);
  }

  async readLtxFile(info: LtxFileId): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.streamLtxFile(info)) chunks.push(c);
    return Buffer.concat(chunks);
  }

  /**
   * The object in ranged GETs, several in flight ahead of the consumer (memory: range size x
   * concurrency). Stopping early aborts what is in flight.
   */
  async *streamLtxFile(info: LtxFileId): AsyncGenerator<Buffer> {
    const what = `read ${describeFile(info, 's3')}`;
    const local = new AbortController();
    const signal = AbortSignal.any([this.stop.signal, local.signal]);
    setMaxListeners(0, signal);
    let done!: () => void;
    const token = this.track(new Promise<void>((resolve) => (done = resolve)));
    try {
      let s3: S3Client;
      try {
        s3 = await this.client();
      } catch (err) {
        throw this.fail(what, err);
      }
      yield* downloadRanges(s3, this.settings.bucket, this.key(info), {
        rangeSize: this.opts.rangeSize ?? 4 * 1024 * 1024,
        concurrency: this.settings.concurrency,
        signal,
        fail: (err) => this.fail(what, err),
      });
    } finally {
      local.abort();
      done();
      this.untrack(token);
    }
  }

  /**
   * Object storage has no temporary files: a PUT is atomic, and an interrupted multipart upload is
   * no object at all (prepareUploads aborts those before this client's first upload).
   */
  async readFence(): Promise<FenceRead | null> {
    const { GetObjectCommand } = await loadS3Sdk();
    return this.run('read the fence record', async (signal) => {
      try {
        const out = await (await this.client()).send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: fenceFilePath(this.root) }), { abortSignal: signal });
        return { text: (await readBody(out.Body)).toString('utf8'), version: out.ETag ?? '' };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
  }

  /** If-None-Match: * to create, If-Match: ETag to replace; a server without them gets read-then-write. */
  async writeFence(text: string, expected: string | null): Promise<boolean> {
    const { PutObjectCommand } = await loadS3Sdk();
    return this.run('write the fence record', async (signal) => {
      const put = (conditional: boolean): Promise<unknown> =>
        this.client().then((s3) =>
          s3.send(
            new PutObjectCommand({
              Bucket: this.settings.bucket,
              Key: fenceFilePath(this.root),
              Body: text,
              ContentType: 'application/json',
              ...(conditional ? (expected === null ? { IfNoneMatch: '*' } : { IfMatch: expected }) : {}),
            }),
            { abortSignal: signal },
          ),
        );
      if (this.conditionalWrites) {
        try {
          await put(true);
          return true;
        } catch (err) {
          if (isPreconditionFailed(err) || (expected !== null && isNotFound(err))) return false;
          if (!isConditionUnsupported(err)) throw err;
          this.conditionalWrites = false;
        }
      }
      const now = await this.readFence();
      if ((now?.version ?? null) !== expected) return false;
      await put(false);
      return true;
    });
  }

  async sweepTemporaryFiles(_olderThanMs: number): Promise<number> {
    return 0;
  }

  async deleteLtxFiles(infos: LtxFileInfo[]): Promise<void> {
    if (infos.length === 0) return;
    const what = infos.length === 1 ? `delete ${describeFile(infos[0]!, 's3')}` : `delete ${infos.length} files from ${levelDir('', infos[0]!.level, 's3')}`;
    await this.run(what, async (signal) => {
      const { DeleteObjectsCommand } = await loadS3Sdk();
      for (let i = 0; i < infos.length; i += 1000) {
        const keys = infos.slice(i, i + 1000).map((f) => this.key(f));
        const out = await (await this.client()).send(
          new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
          { abortSignal: signal },
        );
        const errors = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (errors.length > 0) {
          const e = errors[0]!;
          throw new Error(`${errors.length} of ${keys.length} objects not deleted; first: ${e.Key ?? '?'}: ${e.Code ?? ''} ${e.Message ?? ''}`.trim());
        }
        for (const k of keys) this.times.delete(k);
      }
    });
  }

  async close(graceMs = this.opts.closeTimeoutMs ?? 15_000): Promise<void> {
    if (this.inflight.size > 0 && !(await settledWithin([...this.inflight], graceMs))) {
      this.log?.warn({ event: 's3_close_cut', operations: this.inflight.size }, 'operations still running at close; aborting them');
      this.stop.abort();
      await settledWithin([...this.inflight], 2_000);
    }
    // Others may share the client: it is destroyed when the last one lets go.
    this.s3Lease?.release();
    this.s3Lease = null;
    this.s3 = null;
    this.stop = newStop();
  }

  /** Nothing waits between attempts here beyond the SDK's own short retry delays. */
  retryNow(): void {}

  // --- plumbing ---------------------------------------------------------------------------------

  private run<T>(what: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const task = (async (): Promise<T> => {
      try {
        return await op(this.stop.signal);
      } catch (err) {
        throw this.fail(what, err);
      }
    })();
    this.track(task);
    void task.then(
      () => this.untrack(task),
      () => this.untrack(task),
    );
    return task;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    return p;
  }

  private untrack(p: Promise<unknown>): void {
    this.inflight.delete(p);
  }

  private fail(what: string, err: unknown): ReplicaError {
    if (err instanceof ReplicaError) return err;
    const text = isAborted(err) ? 'aborted (the client is closing)' : describeS3Error(err, this.where);
    return new ReplicaError(this.location, `${what}: ${this.scrub(text)}`, { cause: err });
  }

  /** Secrets never reach a message, even if a server or library were to echo one. */
  private scrub(text: string): string {
    const secret = this.settings.credentials?.secretAccessKey;
    return secret ? text.split(secret).join('****') : text;
  }

  private warnUnverified(host: string): void {
    const msg = `skip-verify is set: connecting to ${host} for ${this.location} without checking its TLS certificate`;
    if (this.log) this.log.warn({ event: 's3_tls_unverified', host }, msg);
    else process.emitWarning(msg);
  }
}

/** Every request in flight listens to it; dozens at once are normal, not a leak. */
function newStop(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

function parseTimestamp(text: string | undefined): Date | null {
  if (!text) return null;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? null : d;
}

