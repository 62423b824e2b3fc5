// The validated configuration, with every default filled in.
import type { LeaseSettings } from './lease.js';

export type ReplicaType = 'file' | 'sftp' | 's3';

export interface SftpSettings {
  host: string;
  port: number;
  user: string;
  password: string | null;
  keyPath: string | null;
  keyPassphrase: string | null;
  /** An authorized_keys style line: "ssh-ed25519 AAAA...". */
  hostKey: string | null;
  knownHostsPath: string | null;
  insecureSkipHostKeyCheck: boolean;
}

export interface S3Settings {
  bucket: string;
  /** Set explicitly (config, URL or AWS_REGION); null means us-east-1 with region redirects followed. */
  region: string | null;
  /** http(s)://host[:port] of an S3-compatible server; null for AWS itself. */
  endpoint: string | null;
  forcePathStyle: boolean;
  /** TLS certificates go unchecked; walship warns on every new connection. */
  skipVerify: boolean;
  /** From the config (or LITESTREAM_ACCESS_KEY_ID/SECRET); null leaves it to the AWS SDK's default chain (AWS_* environment, profiles, web identity, instance roles). */
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
  /** Files up to this size go up in one PUT; larger ones in parts of this size. */
  partSize: number;
  /** Parts in flight per multipart upload, and ranged GETs in flight per download. */
  concurrency: number;
  storageClass: string | null;
  /** AWS_CA_BUNDLE: extra trusted certificates for an https endpoint (ignored for http). */
  caBundlePath: string | null;
}

export interface ReplicaConfig {
  name: string;
  type: ReplicaType;
  /** Directory for file replicas, remote directory for sftp replicas, key prefix for s3 replicas. */
  path: string;
  sftp: SftpSettings | null;
  s3: S3Settings | null;
  syncIntervalMs: number;
  retentionMs: number;
  retentionCheckIntervalMs: number;
  snapshotIntervalMs: number;
  validationIntervalMs: number | null;
  /** Staged bytes kept for this replica while it is behind; past this it is healed by a snapshot. */
  backlogLimitBytes: number;
  /** Where the setting came from, for error messages: "dbs[0].replicas[1]". */
  keyPath: string;
}

export interface DbConfig {
  path: string;
  monitorIntervalMs: number;
  checkpointIntervalMs: number;
  busyTimeoutMs: number;
  minCheckpointPageN: number;
  truncatePageN: number;
  replicas: ReplicaConfig[];
  keyPath: string;
}

/**
 * A directory entry (Litestream 0.5's `dir:`): every SQLite database under `dir` whose file name
 * matches `pattern` is replicated like a `path:` entry, with each replica's path extended by the
 * database's path relative to `dir` (dir-entry.ts derives it).
 */
export interface DirConfig {
  /** Absolute. */
  dir: string;
  /** A Go filepath.Match pattern, matched against the file name alone. */
  pattern: string;
  recursive: boolean;
  /** Pick up databases created (and let go of those deleted) while walship runs. */
  watch: boolean;
  /** What every database found gets: its settings, and the replicas at their base paths. */
  template: Omit<DbConfig, 'path'>;
  keyPath: string;
}

export interface WalshipConfig {
  addr: string | null;
  /** /readyz answers 503 while any replica lags more than this. */
  readyLagMs: number;
  logLevel: string | null;
  logFormat: 'json' | 'text' | null;
  shutdownSyncTimeoutMs: number;
  /** Compaction intervals of levels 1, 2 and 3. */
  levelIntervalsMs: [number, number, number];
  l0RetentionMs: number;
  exec: string | null;
  /** GET after a successful sync, at most once per heartbeatIntervalMs, while every replica is healthy. */
  heartbeatUrl: string | null;
  heartbeatIntervalMs: number;
  /** The owner renews a lease in each replica's fence record; null (the default) makes no request. */
  lease: LeaseSettings | null;
  dbs: DbConfig[];
  /** Directory entries, expanded into databases when replication (or a restore) starts. */
  dirs: DirConfig[];
}

export const DEFAULTS = {
  syncIntervalMs: 1000,
  monitorIntervalMs: 1000,
  checkpointIntervalMs: 60_000,
  busyTimeoutMs: 1000,
  // Below SQLite's default autocheckpoint (1000 pages), so walship's checkpoint (off the
  // application's commit path) runs first and the application's commits do no copying.
  minCheckpointPageN: 500,
  truncatePageN: 121_359,
  snapshotIntervalMs: 24 * 3_600_000,
  retentionMs: 24 * 3_600_000,
  retentionCheckIntervalMs: 3_600_000,
  levelIntervalsMs: [30_000, 5 * 60_000, 3_600_000] as [number, number, number],
  l0RetentionMs: 5 * 60_000,
  shutdownSyncTimeoutMs: 30_000,
  backlogLimitBytes: 1024 ** 3,
  readyLagMs: 60_000,
  heartbeatIntervalMs: 5 * 60_000,
} as const;

/** Litestream's S3 defaults: 5 MiB parts (the S3 minimum), 5 in flight. */
export const DEFAULT_S3 = {
  partSize: 5 * 1024 * 1024,
  concurrency: 5,
} as const;
