// Uploads one local file as one object, never exposing a partial one: a single PUT up to the part
// size, a multipart upload above it (parts in parallel, read from the file as they go, so memory is
// bounded by part size x concurrency). An object appears only when its PUT or CompleteMultipartUpload
// succeeds; a failed multipart upload is aborted. Stale uploads a killed process left are listed and
// aborted by abortStaleUploads().
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
import { promises as fsp } from 'node:fs';
import { loadS3Sdk } from './s3-sdk.js';

export interface UploadTarget {
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  storageClass: string | null;
}

export interface UploadOptions {
  partSize: number;
  concurrency: number;
  /** Send If-None-Match: * so an existing object is never replaced (HTTP 412 instead). */
  ifNoneMatch: boolean;
  signal: AbortSignal;
  /** A multipart upload whose abort failed (server gone): the caller retries the abort later. */
  onAbortFailed?: (uploadId: string) => void;
}

/** Uploads `localPath` to the target; returns the new object's ETag. */
export async function uploadFile(s3: S3Client, t: UploadTarget, localPath: string, o: UploadOptions): Promise<string | undefined> {
  const { PutObjectCommand, CreateMultipartUploadCommand, CompleteMultipartUploadCommand } = await loadS3Sdk();
  const size = (await fsp.stat(localPath)).size;
  const common = {
    Bucket: t.bucket,
    Key: t.key,
    Metadata: t.metadata,
    ...(t.storageClass ? { StorageClass: t.storageClass as never } : {}),
  };
  if (size <= o.partSize) {
    const body = await fsp.readFile(localPath);
    const out = await s3.send(
      new PutObjectCommand({ ...common, Body: body, ContentLength: body.length, ...(o.ifNoneMatch ? { IfNoneMatch: '*' } : {}) }),
      { abortSignal: o.signal },
    );
    return out.ETag;
  }
  const created = await s3.send(new CreateMultipartUploadCommand(common), { abortSignal: o.signal });
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error('CreateMultipartUpload returned no upload id');
  try {
    const parts = await uploadParts(s3, t, uploadId, localPath, size, o);
    const out = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: t.bucket,
        Key: t.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
        ...(o.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }),
      { abortSignal: o.signal },
    );
    return out.ETag;
  } catch (err) {
    // Not under the caller's signal: a close() that cut the upload still wants it aborted.
    await abortUpload(s3, t.bucket, t.key, uploadId).catch(() => o.onAbortFailed?.(uploadId));
    throw err;
  }
}

async function uploadParts(s3: S3Client, t: UploadTarget, uploadId: string, localPath: string, size: number, o: UploadOptions): Promise<CompletedPart[]> {
  const { UploadPartCommand } = await loadS3Sdk();
  const count = Math.ceil(size / o.partSize);
  const parts: CompletedPart[] = new Array(count);
  const fh = await fsp.open(localPath, 'r');
  try {
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < count && !failed) {
        const i = next++;
        const start = i * o.partSize;
        const len = Math.min(o.partSize, size - start);
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, start);
        if (bytesRead !== len) throw new Error(`${localPath} shrank while uploading (read ${bytesRead} of ${len} bytes at ${start})`);
        try {
          const out = await s3.send(
            new UploadPartCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId, PartNumber: i + 1, Body: buf, ContentLength: len }),
            { abortSignal: o.signal },
          );
          parts[i] = { PartNumber: i + 1, ETag: out.ETag };
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(o.concurrency, count) }, worker));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    return parts;
  } finally {
    await fh.close();
  }
}

export async function abortUpload(s3: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  const { AbortMultipartUploadCommand } = await loadS3Sdk();
  // A short bound of its own: the server may be the reason the upload failed.
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(10_000) });
}

/** Aborts every multipart upload under `prefix` (left by a process that was killed mid-upload). Returns how many. */
export async function abortStaleUploads(s3: S3Client, bucket: string, prefix: string, signal: AbortSignal): Promise<string[]> {
  const { ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await loadS3Sdk();
  const aborted: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (let page = 0; page < 1_000; page++) {
    const out = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      { abortSignal: signal },
    );
    for (const u of out.Uploads ?? []) {
      if (!u.Key || !u.UploadId) continue;
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal });
      aborted.push(u.Key);
    }
    if (!out.IsTruncated) break;
    keyMarker = out.NextKeyMarker;
    uploadIdMarker = out.NextUploadIdMarker;
  }
  return aborted;
}
