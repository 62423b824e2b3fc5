// An s3 replica's settings, from its own keys, its URL, the top-level (Litestream v0.5) defaults and
// the environment, in that order, as Litestream resolves them.
import { DEFAULT_S3, type S3Settings } from './types.js';
import { withScheme, type ParsedS3Url } from './s3-url.js';

/** Keys an s3 replica (or the top level, as defaults for every s3 replica) may set. */
export const S3_KEYS = ['bucket', 'region', 'endpoint', 'access-key-id', 'secret-access-key', 'force-path-style', 'skip-verify', 'part-size', 'concurrency', 'storage-class'] as const;
/** Litestream tuning knobs of its Go SDK that have no meaning here: accepted, ignored. */
export const S3_IGNORED_KEYS = ['sign-payload', 'require-content-md5'] as const;
/** Server-side encryption walship does not do: refused, so nothing is written unencrypted by surprise. */
export const S3_REFUSED_KEYS = ['sse-customer-algorithm', 'sse-customer-key', 'sse-customer-key-path', 'sse-kms-key-id'] as const;

export interface S3Fields {
  bucket: string | null;
  region: string | null;
  endpoint: string | null;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  forcePathStyle: boolean | null;
  skipVerify: boolean | null;
  partSize: number | null;
  concurrency: number | null;
  storageClass: string | null;
}

export interface S3Input {
  /** The parsed s3:// URL, when the replica has one. */
  url: ParsedS3Url | null;
  /** The replica's own keys. */
  own: S3Fields;
  /** The replica's `path:` key (the key prefix when there is no URL). */
  ownPath: string | null;
  /** Top-level keys: defaults for every s3 replica. */
  top: S3Fields;
  env: NodeJS.ProcessEnv;
  /** Config key of the replica, for errors: "dbs[0].replica". */
  key: string;
  fail: (key: string, message: string) => never;
}

const MIN_PART = 5 * 1024 * 1024;
const MAX_PART = 5 * 1024 ** 3;

export function resolveS3(i: S3Input): { settings: S3Settings; path: string } {
  const { url, own, top, env, key, fail } = i;
  if (url && i.ownPath) fail(`${key}.path`, 'an s3 replica takes either url: or bucket: and path:, not url: and path:');
  if (url && own.bucket) fail(`${key}.bucket`, 'an s3 replica takes either url: or bucket: and path:, not url: and bucket:');
  const pick = <T>(f: (s: S3Fields | ParsedS3Url) => T | null): T | null => f(own) ?? (url ? f(url) : null) ?? f(top);
  const bucket = own.bucket || url?.bucket || top.bucket;
  if (!bucket) return fail(`${key}.bucket`, 'an s3 replica needs a bucket (s3://BUCKET/PATH, or bucket:)');
  const path = (i.ownPath ?? url?.path ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
  if (!path) fail(`${key}.path`, `an s3 replica needs a path inside the bucket (s3://${bucket}/PATH, or path:)`);

  const endpointText = pick((s) => s.endpoint) ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || env.LITESTREAM_S3_ENDPOINT || null);
  let endpoint: string | null = null;
  if (endpointText) {
    endpoint = withScheme(endpointText);
    let u: URL | null = null;
    try {
      u = new URL(endpoint);
    } catch {
      // reported below
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) return fail(`${key}.endpoint`, `${JSON.stringify(endpointText)} is not an http(s)://host[:port] URL`);
    if (u.username || u.password) fail(`${key}.endpoint`, 'must not hold credentials');
  }

  const accessKeyId = own.accessKeyId ?? top.accessKeyId ?? (env.AWS_ACCESS_KEY_ID ? null : env.LITESTREAM_ACCESS_KEY_ID || null);
  const secretAccessKey = own.secretAccessKey ?? top.secretAccessKey ?? (env.AWS_SECRET_ACCESS_KEY ? null : env.LITESTREAM_SECRET_ACCESS_KEY || null);
  if ((accessKeyId === null) !== (secretAccessKey === null)) {
    fail(`${key}.${accessKeyId === null ? 'access-key-id' : 'secret-access-key'}`, 'access-key-id and secret-access-key go together; set both, or neither (then the AWS_* environment and the usual AWS credential sources are used)');
  }

  const partSize = pick((s) => s.partSize) ?? DEFAULT_S3.partSize;
  if (partSize < MIN_PART) fail(`${key}.part-size`, `${partSize} bytes is below the S3 minimum part size of 5 MiB`);
  if (partSize > MAX_PART) fail(`${key}.part-size`, `${partSize} bytes is above the S3 maximum part size of 5 GiB`);
  const concurrency = pick((s) => s.concurrency) ?? DEFAULT_S3.concurrency;
  if (concurrency < 1 || concurrency > 64) fail(`${key}.concurrency`, `${concurrency} is not between 1 and 64`);

  return {
    path,
    settings: {
      bucket,
      region: pick((s) => s.region) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || null),
      endpoint,
      forcePathStyle: pick((s) => s.forcePathStyle) ?? endpoint !== null,
      skipVerify: pick((s) => s.skipVerify) ?? false,
      credentials: accessKeyId !== null && secretAccessKey !== null ? { accessKeyId, secretAccessKey } : null,
      partSize,
      concurrency,
      storageClass: own.storageClass ?? top.storageClass,
      caBundlePath: env.AWS_CA_BUNDLE || null,
    },
  };
}
