// Shared by the commands: which config to read, and what a DB_PATH|REPLICA_URL argument names.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildConfigFromUrls, ConfigError, defaultConfigPath, loadConfigFile, type LoadedConfig } from '../config/load.js';
import { dbConfigFor, matchesEntry, relativeToEntry } from '../config/dir-entry.js';
import type { DbConfig, DirConfig, ReplicaConfig } from '../config/types.js';
import { quote } from '../config/text.js';
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

/** A replica given on the command line as a URL, with the defaults a config file would get. */
export function replicaFromUrl(url: string): ReplicaConfig {
  return buildConfigFromUrls('.', [url]).config.dbs[0]!.replicas[0]!;
}

export function findDb(loaded: LoadedConfig | null, dbPath: string): DbConfig {
  if (!loaded) throw new ConfigError(`database ${dbPath}: no config file found; give -config, or a replica URL instead`);
  const abs = path.resolve(dbPath);
  const db = loaded.config.dbs.find((d) => d.path === abs) ?? dirEntryDb(loaded.config.dirs, abs);
  if (!db) throw new ConfigError(`database ${abs} is not in config ${loaded.file}`);
  return db;
}

/** A database under a directory entry, by its path: the entry's settings and derived replicas. */
function dirEntryDb(dirs: readonly DirConfig[], abs: string): DbConfig | undefined {
  for (const entry of dirs) {
    const rel = relativeToEntry(entry, abs);
    if (rel !== null && matchesEntry(entry, rel)) return dbConfigFor(entry, rel);
  }
  return undefined;
}

/**
 * The replicas a -replica NAME picks: all of the database's when no name is given, else the one so
 * named. From a replica URL there is one replica, named by its type ("file", "sftp").
 */
export function selectReplicas(from: DbConfig | ReplicaConfig, name: string | undefined): ReplicaConfig[] {
  const replicas = 'replicas' in from ? from.replicas : [from];
  if (name === undefined) return replicas;
  const r = replicas.find((x) => x.name === name);
  const where = 'replicas' in from ? `database ${from.path}` : `the replica URL`;
  if (!r) throw new UsageError(`${where} has no replica named ${quote(name)} (have: ${replicas.map((x) => x.name).join(', ')})`);
  return [r];
}
