// The validated configuration, with every default filled in.

export type ReplicaType = 'file' | 'sftp';

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

export interface ReplicaConfig {
  name: string;
  type: ReplicaType;
  /** Directory for file replicas, remote directory for sftp replicas. */
  path: string;
  sftp: SftpSettings | null;
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
  dbs: DbConfig[];
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
