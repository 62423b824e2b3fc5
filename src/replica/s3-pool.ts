// One S3Client (with its keep-alive HTTP agents) per S3 endpoint and credentials, shared by every
// replica client using them, counted by reference: a sidecar with 1,000 databases on one bucket
// keeps one pool of sockets, not 1,000. The bucket is named per request, so it is not part of the
// identity; everything the client is built from is. The last client to let go destroys it.
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../config/types.js';
import { createS3Client, type S3ConnectOptions } from './s3-connect.js';

interface Shared {
  readonly key: string;
  readonly client: Promise<S3Client>;
  refs: number;
}

const pool = new Map<string, Shared>();

/** The identity a client is shared by: never logged (it holds the secret key, if any). */
function endpointKey(s: S3Settings, opts: S3ConnectOptions): string {
  const { bucket: _bucket, ...rest } = s;
  return JSON.stringify([rest, opts.requestTimeoutMs ?? null, opts.connectTimeoutMs ?? null]);
}

/** S3 clients currently shared in this process. */
export function sharedS3Clients(): number {
  return pool.size;
}

/** A share of the endpoint's client; release() once, when done with it. */
export interface S3ClientLease {
  readonly client: Promise<S3Client>;
  release(): void;
}

/**
 * The shared client for these settings (built on first use). `opts.onUnverifiedConnect` of the
 * first user is the one that reports skip-verify connections. A client that failed to build is
 * dropped from the pool, so the next lease tries again.
 */
export function leaseS3Client(s: S3Settings, opts: S3ConnectOptions = {}): S3ClientLease {
  const key = endpointKey(s, opts);
  let shared = pool.get(key);
  if (!shared) {
    const entry: Shared = { key, client: createS3Client(s, opts), refs: 0 };
    entry.client.catch(() => {
      if (pool.get(key) === entry) pool.delete(key);
    });
    pool.set(key, entry);
    shared = entry;
  }
  const entry = shared;
  entry.refs++;
  let released = false;
  return {
    client: entry.client,
    release: () => {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs > 0) return;
      if (pool.get(key) === entry) pool.delete(key);
      void entry.client.then((c) => c.destroy(), () => undefined);
    },
  };
}
