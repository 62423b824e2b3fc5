// s3://BUCKET/PATH replica URLs, read as Litestream reads them: the host is the bucket (or
// bucket.host:port for a local server, or BUCKET.s3[.REGION].amazonaws.com), the path is the key
// prefix, and the query may carry endpoint, region, force-path-style, skip-verify, part-size and
// concurrency (camelCase spellings too).
import { parseSize } from './size.js';

export interface ParsedS3Url {
  type: 's3';
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slashes. */
  path: string;
  region: string | null;
  endpoint: string | null;
  forcePathStyle: boolean | null;
  skipVerify: boolean | null;
  partSize: number | null;
  concurrency: number | null;
}

const AWS_HOST = /^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$/;

/** The parsed URL, or a message saying what is wrong with it. */
export function parseS3Url(u: URL): ParsedS3Url | string {
  if (u.username || u.password) return 's3 URL must not hold credentials (use access-key-id and secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)';
  const host = u.host;
  if (!host) return 's3 URL needs a bucket (s3://BUCKET/PATH)';
  let bucket = host;
  let region: string | null = null;
  let endpoint: string | null = null;
  let forcePathStyle: boolean | null = null;
  const aws = AWS_HOST.exec(host);
  if (aws) {
    bucket = aws[1]!;
    region = aws[2] ?? null;
  } else if (u.port) {
    // bucket.host:port, a local server (as Litestream reads it): plain HTTP, path-style requests.
    const dot = u.hostname.indexOf('.');
    if (dot <= 0) return 's3 URL with a port needs the bucket before the host (s3://BUCKET.HOST:PORT/PATH), or use s3://BUCKET/PATH with endpoint:';
    bucket = u.hostname.slice(0, dot);
    endpoint = `http://${u.hostname.slice(dot + 1)}:${u.port}`;
    forcePathStyle = true;
  }
  const q = u.searchParams;
  const get = (...names: string[]): string | null => {
    for (const n of names) {
      const v = q.get(n);
      if (v !== null && v !== '') return v;
    }
    return null;
  };
  const qEndpoint = get('endpoint');
  if (qEndpoint) {
    endpoint = withScheme(qEndpoint);
    forcePathStyle = true;
  }
  region = get('region') ?? region;
  const bool = (...names: string[]): boolean | null | string => {
    const v = get(...names);
    if (v === null) return null;
    if (v === 'true') return true;
    if (v === 'false') return false;
    return `${names[0]}=${v} is not true or false`;
  };
  const fps = bool('force-path-style', 'forcePathStyle');
  if (typeof fps === 'string') return fps;
  if (fps !== null) forcePathStyle = fps;
  const skip = bool('skip-verify', 'skipVerify');
  if (typeof skip === 'string') return skip;
  const partText = get('part-size', 'partSize');
  const partSize = partText === null ? null : parseSize(/^\d+$/.test(partText) ? Number(partText) : partText);
  if (partText !== null && !partSize) return `part-size=${partText} is not a size`;
  const concText = get('concurrency');
  const concurrency = concText === null ? null : Number(concText);
  if (concurrency !== null && (!Number.isInteger(concurrency) || concurrency < 1)) return `concurrency=${concText} is not a positive integer`;
  return {
    type: 's3',
    bucket,
    path: decodeURIComponent(u.pathname).replace(/^\/+/, '').replace(/\/+$/, ''),
    region,
    endpoint,
    forcePathStyle,
    skipVerify: skip,
    partSize,
    concurrency,
  };
}

/** An endpoint without a scheme is https, except on loopback (as Litestream does it). */
export function withScheme(endpoint: string): string {
  // Any scheme is kept as given (http and https are the ones that then validate).
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) return endpoint.replace(/\/+$/, '');
  const local = /^(localhost|127\.|\[::1\]|::1)/i.test(endpoint);
  return `${local ? 'http' : 'https'}://${endpoint.replace(/\/+$/, '')}`;
}
