// The AWS SDK, loaded on first use: it costs about a second of start-up CPU and 15 MB of memory,
// which a replicator without an s3 replica should not pay.
export type S3Sdk = typeof import('@aws-sdk/client-s3');

let loading: Promise<S3Sdk> | null = null;

export function loadS3Sdk(): Promise<S3Sdk> {
  loading ??= import('@aws-sdk/client-s3');
  return loading;
}
