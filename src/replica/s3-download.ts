// Downloads one object as ranged GETs, several in flight ahead of the consumer and yielded in
// order, so a large snapshot downloads in parallel with memory bounded by range size x concurrency.
// Every range after the first is pinned to the first one's ETag (If-Match): an object replaced
// midway fails the download instead of mixing two versions. A range whose transfer breaks is
// fetched again (a few times).
import type { S3Client } from '@aws-sdk/client-s3';
import { loadS3Sdk } from './s3-sdk.js';
import { s3Status } from './s3-errors.js';

export interface DownloadOptions {
  rangeSize: number;
  concurrency: number;
  signal: AbortSignal;
  /** Wraps a failure with the operation's context. */
  fail: (err: unknown) => Error;
}

const ATTEMPTS = 3;

export async function readBody(body: unknown): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return Buffer.concat(chunks);
}

interface Range {
  data: Buffer;
  total: number | null;
  etag: string | undefined;
}

async function getRange(s3: S3Client, bucket: string, key: string, start: number, end: number, etag: string | undefined, signal: AbortSignal): Promise<Range> {
  const { GetObjectCommand } = await loadS3Sdk();
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, ...(etag ? { IfMatch: etag } : {}) }),
        { abortSignal: signal },
      );
      const data = await readBody(out.Body);
      const total = parseTotal(out.ContentRange);
      // Without Content-Range the server ignored the range and sent the whole object.
      if (total !== null && data.length !== Math.min(end, total - 1) - start + 1) {
        throw new Error(`short range: got ${data.length} bytes at ${start} of ${total}`);
      }
      return { data, total, etag: out.ETag };
    } catch (err) {
      const status = s3Status(err);
      const final = signal.aborted || attempt >= ATTEMPTS || (status !== undefined && status >= 400 && status < 500);
      if (final) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

function parseTotal(contentRange: string | undefined): number | null {
  const m = contentRange ? /\/(\d+)\s*$/.exec(contentRange) : null;
  return m ? Number(m[1]) : null;
}

export async function* downloadRanges(s3: S3Client, bucket: string, key: string, o: DownloadOptions): AsyncGenerator<Buffer> {
  let first: Range;
  try {
    first = await getRange(s3, bucket, key, 0, o.rangeSize - 1, undefined, o.signal);
  } catch (err) {
    if (s3Status(err) === 416) return; // an empty object has no byte 0
    throw o.fail(err);
  }
  const total = first.total;
  if (total === null || total <= o.rangeSize) {
    yield first.data;
    return;
  }
  const queue: Array<Promise<Range>> = [];
  let nextStart = o.rangeSize;
  const fill = (): void => {
    while (queue.length < o.concurrency && nextStart < total) {
      const start = nextStart;
      const end = Math.min(total, start + o.rangeSize) - 1;
      const p = getRange(s3, bucket, key, start, end, first.etag, o.signal);
      p.catch(() => undefined); // surfaces when its turn comes
      queue.push(p);
      nextStart = end + 1;
    }
  };
  fill();
  yield first.data;
  while (queue.length > 0) {
    let r: Range;
    try {
      r = await queue.shift()!;
    } catch (err) {
      throw o.fail(s3Status(err) === 412 ? new Error('the object changed while it was being read') : err);
    }
    fill();
    yield r.data;
  }
}
