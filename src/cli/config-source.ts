// Shared by the commands: which config to read, and what a DB_PATH|REPLICA_URL argument names.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, defaultConfigPath, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { DEFAULTS, type DbConfig, type ReplicaConfig } from '../config/types.js';
import { parseReplicaUrl, ReplicaUrlError } from '../replica/url.js';
import type { ParsedArgs } from './args.js';
import { UsageError } from './errors.js';

export const CONFIG_FLAGS = {
  config: { type: 'string', help: 'config file (default $WALSHIP_CONFIG or /etc/walship.yml)' },
  'no-expand-env': { type: 'boolean', help: 'do not expand $VAR and ${VAR} in the config' },
} as const;

/** Loads the config named by -config, or the default one; `required: false` tolerates its absence. */
export function loadConfigFromArgs(args: ParsedArgs, required: boolean): LoadedConfig | null {
  const explicit = args.strings.get('config');
  const file = explicit ?? defaultConfigPath();
  if (!explicit && !required && !existsSync(file)) return null;
  return loadConfigFile(file, { expandEnv: !args.booleans.has('no-expand-env') });
}

export function isReplicaUrl(arg: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(arg);
}

/** A replica given on the command line as a URL, with defaults for everything else. */
export function replicaFromUrl(url: string): ReplicaConfig {
  let parsed;
  try {
    parsed = parseReplicaUrl(url);
  } catch (err) {
    if (err instanceof ReplicaUrlError) throw new UsageError(err.message);
    throw err;
  }
  const common = {
    syncIntervalMs: DEFAULTS.syncIntervalMs,
    retentionMs: DEFAULTS.retentionMs,
    retentionCheckIntervalMs: DEFAULTS.retentionCheckIntervalMs,
    snapshotIntervalMs: DEFAULTS.snapshotIntervalMs,
    validationIntervalMs: null,
    backlogLimitBytes: DEFAULTS.backlogLimitBytes,
    keyPath: 'command line',
  };
  if (parsed.type === 'file') return { name: 'file', type: 'file', path: path.resolve(parsed.path), sftp: null, ...common };
  if (!parsed.user) throw new UsageError(`sftp URL needs a user: sftp://user@${parsed.host}/...`);
  return {
    name: 'sftp',
    type: 'sftp',
    path: parsed.path,
    sftp: {
      host: parsed.host,
      port: parsed.port ?? 22,
      user: parsed.user,
      password: parsed.password,
      keyPath: null,
      keyPassphrase: null,
      hostKey: null,
      knownHostsPath: null,
      insecureSkipHostKeyCheck: false,
    },
    ...common,
  };
}

export function findDb(loaded: LoadedConfig | null, dbPath: string): DbConfig {
  if (!loaded) throw new ConfigError(`database ${dbPath}: no config file found; give -config, or a replica URL instead`);
  const abs = path.resolve(dbPath);
  const db = loaded.config.dbs.find((d) => d.path === abs);
  if (!db) throw new ConfigError(`database ${abs} is not in config ${loaded.file}`);
  return db;
}

export function selectReplicas(db: DbConfig, name: string | undefined): ReplicaConfig[] {
  if (!name) return db.replicas;
  const r = db.replicas.find((x) => x.name === name);
  if (!r) throw new UsageError(`database ${db.path} has no replica named "${name}" (have: ${db.replicas.map((x) => x.name).join(', ')})`);
  return [r];
}
