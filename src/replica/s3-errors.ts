// What an S3 failure means for the person running walship: one line naming the bucket and what to
// check. Pure: classifies errors as the AWS SDK reports them (error name, HTTP status, socket code).

export interface S3Where {
  bucket: string;
  /** The endpoint in use, or null for AWS itself. */
  endpoint: string | null;
  region: string | null;
}

interface ErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

function shape(err: unknown): ErrorShape {
  return err !== null && typeof err === 'object' ? (err as ErrorShape) : { message: String(err) };
}

export function s3Status(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

export function s3ErrorName(err: unknown): string {
  return shape(err).name ?? '';
}

/** The object (or upload) is not there. */
export function isNotFound(err: unknown): boolean {
  const n = s3ErrorName(err);
  // By name only: some servers answer an unknown access key with a 404 too (versitygw's XAdminUserNotFound).
  return n === 'NoSuchKey' || n === 'NotFound' || n === 'NoSuchUpload';
}

/** A conditional write found the key taken (If-None-Match: *). */
export function isPreconditionFailed(err: unknown): boolean {
  return s3ErrorName(err) === 'PreconditionFailed' || s3Status(err) === 412;
}

/** The server does not do conditional writes. */
export function isConditionUnsupported(err: unknown): boolean {
  const n = s3ErrorName(err);
  return n === 'NotImplemented' || s3Status(err) === 501;
}

/** Aborted by close(): not worth a diagnosis. */
export function isAborted(err: unknown): boolean {
  const n = s3ErrorName(err);
  return n === 'AbortError' || shape(err).code === 'ABORT_ERR';
}

function socketCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 4; e = shape(e).cause, i++) {
    const c = shape(e).code;
    if (c && /^[A-Z_]+$/.test(c)) return c;
  }
  return undefined;
}

const TLS_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT|ERR_SSL)/;

/** One line: what went wrong and what to check. */
export function describeS3Error(err: unknown, where: S3Where): string {
  const e = shape(err);
  const name = e.name ?? 'Error';
  const status = s3Status(err);
  const b = `bucket "${where.bucket}"`;
  const at = where.endpoint ? ` at ${where.endpoint}` : '';
  const code = socketCode(err);
  switch (name) {
    case 'InvalidAccessKeyId':
    case 'XAdminUserNotFound':
      return `the server does not know the access key (InvalidAccessKeyId) for ${b}${at}; check access-key-id (or AWS_ACCESS_KEY_ID)`;
    case 'SignatureDoesNotMatch':
      return `the secret key does not match the access key (SignatureDoesNotMatch) for ${b}${at}; check secret-access-key (or AWS_SECRET_ACCESS_KEY)`;
    case 'AccessDenied':
    case 'Forbidden':
      return `access denied (${name}) to ${b}${at}; check the credentials and their permissions on the bucket and path`;
    case 'NoSuchBucket':
      return `${b} does not exist${at}; check the bucket name${where.endpoint ? ' and endpoint' : ', endpoint and region'}`;
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
    case 'IllegalLocationConstraintException':
      return `${b} is in another region than ${where.region ?? 'us-east-1'} (${name}); check region (or AWS_REGION) and endpoint`;
    case 'CredentialsProviderError':
      return `no S3 credentials found for ${b}; set access-key-id and secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
    case 'TimeoutError':
    case 'RequestTimeout':
      return `no answer from ${where.endpoint ?? 'S3'} in time for ${b} (${name}); check endpoint and that the server is up`;
  }
  if (code && TLS_CODES.test(code)) {
    return `the TLS certificate of ${where.endpoint ?? 'S3'} is not trusted (${code}); add its CA with AWS_CA_BUNDLE, or set skip-verify: true`;
  }
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE'].includes(code)) {
    return `cannot reach ${where.endpoint ?? 'S3'} for ${b} (${code}); check endpoint and that the server is up`;
  }
  if (status === 403) return `access denied (HTTP 403) to ${b}${at}; check the credentials and their permissions`;
  if (status === 301) return `${b} is in another region than ${where.region ?? 'us-east-1'} (HTTP 301); check region (or AWS_REGION) and endpoint`;
  const msg = (e.message ?? '').split('\n')[0]!.trim();
  const detail = msg && msg !== name && msg !== 'UnknownError' ? `: ${msg}` : '';
  return `${name}${status ? ` (HTTP ${status})` : ''}${detail}`;
}
