// Reads a walship or Litestream YAML config: env expansion, YAML parsing, validation and defaults.
// Every error names the key path it is about; unknown keys draw warnings, never silence.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseReplicaUrl, redactUrl, ReplicaUrlError, type ParsedReplicaUrl } from './replica-url.js';
import { resolveS3, S3_IGNORED_KEYS, S3_KEYS, S3_REFUSED_KEYS, type S3Fields } from './s3-config.js';
import { leaseProblem, leaseSettings, type LeaseSettings } from './lease.js';
import { expandEnv } from './expand-env.js';
import { ConfigError } from './config-error.js';
import { fsPathProblem } from './fs-path.js';
import { findDirOverlap, findOverlap } from './overlap.js';
import { readDirEntry } from './dir-config.js';
import { STAGING_NAME_EXTRA_BYTES } from './staging-path.js';
import { describe, quote } from './text.js';
import { parseYaml } from './yaml-doc.js';
import { ConfigFields, type Obj } from './fields.js';
import { expandHome } from './home.js';
import { nameReplicas } from './replica-names.js';
import { DEFAULTS, type DbConfig, type DirConfig, type ReplicaConfig, type S3Settings, type SftpSettings, type WalshipConfig } from './types.js';

export { ConfigError };

export interface LoadedConfig {
  config: WalshipConfig;
  warnings: string[];
  file: string;
}

export interface LoadOptions {
  expandEnv?: boolean;
  env?: NodeJS.ProcessEnv;
}


// Keys Litestream knows that walship accepts but does not act on (other backends, other features).
const IGNORED_TOP = ['mcp-addr', 'socket', 'verify-compaction', 'l0-retention-check-interval', 'shutdown-sync-interval', ...S3_IGNORED_KEYS];
const MIN_HEARTBEAT_INTERVAL_MS = 60_000;
// Go's time.Duration is an int64 of nanoseconds; Litestream refuses anything longer, and so does walship.
const IGNORED_DB = ['meta-path', 'meta-dir', 'max-sync-wal-bytes', 'restore-if-db-not-exists', 'max-checkpoint-page-count'];
const IGNORED_REPLICA = ['max-sync-ltx-files', 'auto-recover', 'concurrent-writes', ...S3_IGNORED_KEYS];

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.WALSHIP_CONFIG || '/etc/walship.yml';
}

export function loadConfigFile(file: string, opts: LoadOptions = {}): LoadedConfig {
  const bad = fsPathProblem(file);
  if (bad) throw new ConfigError(`config ${quote(file)}: the file name ${bad}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`config ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { ...parseConfig(text, file, opts), file };
}

export interface BuiltConfig {
  config: WalshipConfig;
  warnings: string[];
}

export function parseConfig(text: string, file: string, opts: LoadOptions = {}): BuiltConfig {
  const env = opts.env ?? process.env;
  const expanded = opts.expandEnv === false ? text : expandEnv(text, env);
  const root = parseYaml(expanded, `config ${file}`);
  if (root === null || root === undefined) throw new ConfigError(`config ${file}: file is empty; expected a "dbs:" list`);
  return buildConfig(root, `config ${file}`, env);
}

/**
 * Validates a config document (as YAML would give it) and fills in every default: the one way a
 * config is made, whether it comes from a file or from the command line. `source` starts every
 * error message ("config /etc/walship.yml", "command line").
 */
export function buildConfig(root: unknown, source: string, env: NodeJS.ProcessEnv = process.env): BuiltConfig {
  const warnings: string[] = [];
  const config = new Validator(source, warnings, env).root(root);
  return { config, warnings };
}

/** The config `replicate DB_PATH URL...` and `restore -o OUT URL` stand for. */
export function buildConfigFromUrls(dbPath: string, urls: readonly string[], env: NodeJS.ProcessEnv = process.env): BuiltConfig {
  return buildConfig({ dbs: [{ path: dbPath, replicas: urls.map((url) => ({ url })) }] }, 'command line', env);
}

class Validator extends ConfigFields {
  /** The S3 keys of a replica (or of the top level, as defaults). */
  s3Fields(o: Obj, key: string): S3Fields {
    const k = key;
    const concurrency = this.int(o, 'concurrency', k, 1);
    return {
      bucket: this.str(o, 'bucket', k),
      region: this.str(o, 'region', k),
      endpoint: this.str(o, 'endpoint', k),
      accessKeyId: this.str(o, 'access-key-id', k),
      secretAccessKey: this.str(o, 'secret-access-key', k),
      forcePathStyle: this.bool(o, 'force-path-style', k),
      skipVerify: this.bool(o, 'skip-verify', k),
      partSize: this.size(o, 'part-size', k),
      concurrency,
      storageClass: this.str(o, 'storage-class', k),
    };
  }

  refuseSse(o: Obj, key: string): void {
    for (const k of S3_REFUSED_KEYS) {
      if (o[k] !== undefined) this.fail(key ? `${key}.${k}` : k, 'server-side encryption settings are not supported by walship; remove the key (or encrypt at the bucket level)');
    }
  }

  root(v: unknown): WalshipConfig {
    const o = this.object(v, '(top level)');
    this.checkKeys(o, '', ['dbs', 'addr', 'logging', 'snapshot', 'levels', 'validation', 'retention', 'l0-retention', 'exec', 'shutdown-sync-timeout', 'sync-interval', 'validation-interval', 'ready-lag', 'heartbeat-url', 'heartbeat-interval', 'lease', ...S3_KEYS, ...S3_REFUSED_KEYS, ...IGNORED_TOP]);
    this.refuseSse(o, '');
    const addr = this.str(o, 'addr', '');
    if (addr !== null && addr !== '' && !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(addr)) {
      this.fail('addr', `${quote(addr)} is not host:port`);
    }
    if (addr) {
      const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
      if (port < 1 || port > 65535) this.fail('addr', `port ${port} is out of range`);
    }
    let logLevel: string | null = null;
    let logFormat: 'json' | 'text' | null = null;
    if (o.logging !== undefined && o.logging !== null) {
      const l = this.object(o.logging, 'logging');
      this.checkKeys(l, 'logging', ['level', 'type', 'stderr']);
      logLevel = this.str(l, 'level', 'logging');
      const type = this.str(l, 'type', 'logging');
      if (type !== null && type !== 'json' && type !== 'text') this.fail('logging.type', `${quote(type)} is not json or text`);
      logFormat = type;
      if (logLevel !== null && !['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(logLevel.toLowerCase())) {
        this.fail('logging.level', `${quote(logLevel)} is not one of trace, debug, info, warn, error`);
      }
    }
    // Top-level (v0.5) settings that apply to every replica unless a replica sets its own.
    const globalSync = this.duration(o, 'sync-interval', '', { allowZero: true, timer: true });
    const globalValidation = this.duration(o, 'validation-interval', '', { allowZero: true, timer: true });
    let snapshotInterval: number | null = null;
    let snapshotRetention: number | null = null;
    if (o.snapshot !== undefined && o.snapshot !== null) {
      const s = this.object(o.snapshot, 'snapshot');
      this.checkKeys(s, 'snapshot', ['interval', 'retention']);
      snapshotInterval = this.duration(s, 'interval', 'snapshot', { allowZero: false });
      snapshotRetention = this.duration(s, 'retention', 'snapshot', { allowZero: false });
    }
    let validationInterval = globalValidation;
    if (o.validation !== undefined && o.validation !== null) {
      const s = this.object(o.validation, 'validation');
      this.checkKeys(s, 'validation', ['interval']);
      validationInterval = this.duration(s, 'interval', 'validation', { allowZero: true, timer: true }) ?? validationInterval;
    }
    if (o.retention !== undefined && o.retention !== null) {
      const s = this.object(o.retention, 'retention');
      this.checkKeys(s, 'retention', ['enabled']);
      this.bool(s, 'enabled', 'retention');
    }
    const levelIntervalsMs: [number, number, number] = [...DEFAULTS.levelIntervalsMs];
    if (o.levels !== undefined && o.levels !== null) {
      if (!Array.isArray(o.levels)) this.fail('levels', `expected a list, got ${describe(o.levels)}`);
      if (o.levels.length > 3) this.fail('levels', `at most 3 compaction levels are supported, got ${o.levels.length}`);
      o.levels.forEach((lv: unknown, i: number) => {
        const l = this.object(lv, `levels[${i}]`);
        this.checkKeys(l, `levels[${i}]`, ['interval']);
        const ms = this.duration(l, 'interval', `levels[${i}]`, { allowZero: false, timer: true });
        if (ms !== null) levelIntervalsMs[i] = ms;
      });
    }
    const l0RetentionMs = this.duration(o, 'l0-retention', '', { allowZero: true }) ?? DEFAULTS.l0RetentionMs;
    const shutdownSyncTimeoutMs = this.duration(o, 'shutdown-sync-timeout', '', { allowZero: true, timer: true }) ?? DEFAULTS.shutdownSyncTimeoutMs;
    const exec = this.str(o, 'exec', '');

    if (o.dbs === undefined || o.dbs === null) this.fail('dbs', 'required: list the databases to replicate');
    if (!Array.isArray(o.dbs)) this.fail('dbs', `expected a list, got ${describe(o.dbs)}`);
    if (o.dbs.length === 0) this.fail('dbs', 'the list is empty');
    const replicaDefaults = {
      syncIntervalMs: globalSync,
      validationIntervalMs: validationInterval,
      snapshotIntervalMs: snapshotInterval,
      retentionMs: snapshotRetention,
      s3: this.s3Fields(o, ''),
    };
    const entries = o.dbs.map((d: unknown, i: number) => this.entry(d, `dbs[${i}]`, replicaDefaults));
    const dbs = entries.flatMap((e) => ('db' in e ? [e.db] : []));
    const dirs = entries.flatMap((e) => ('dir' in e ? [e.dir] : []));
    const seen = new Set<string>();
    dbs.forEach((d) => {
      if (seen.has(d.path)) this.fail(`${d.keyPath}.path`, `${d.path} is listed twice`);
      seen.add(d.path);
    });
    const overlap = findOverlap(dbs) ?? findDirOverlap(dbs, dirs);
    if (overlap) this.fail(overlap.key, overlap.message);
    const readyLagMs = this.duration(o, 'ready-lag', '', { allowZero: false }) ?? DEFAULTS.readyLagMs;
    return { addr: addr || null, readyLagMs, logLevel, logFormat, shutdownSyncTimeoutMs, levelIntervalsMs, l0RetentionMs, exec: exec || null, dbs, dirs, ...this.heartbeat(o), lease: this.lease(o) };
  }

  /** lease: { duration, renew-interval } (lease.ts); absent means no lease and no renewal requests. */
  lease(o: Obj): LeaseSettings | null {
    if (o.lease === undefined || o.lease === null) return null;
    const l = this.object(o.lease, 'lease');
    this.checkKeys(l, 'lease', ['duration', 'renew-interval']);
    const duration = this.duration(l, 'duration', 'lease', { allowZero: false, timer: true });
    if (duration === null) this.fail('lease.duration', 'required: how long a renewal holds (e.g. 30s)');
    const settings = leaseSettings(duration, this.duration(l, 'renew-interval', 'lease', { allowZero: false, timer: true }));
    const problem = leaseProblem(settings);
    if (problem) this.fail(`lease.${problem.key}`, problem.message);
    return settings;
  }

  /** Litestream's heartbeat-url (http or https) and heartbeat-interval (at least 1m, default 5m). */
  heartbeat(o: Obj): Pick<WalshipConfig, 'heartbeatUrl' | 'heartbeatIntervalMs'> {
    const url = this.str(o, 'heartbeat-url', '') || null;
    // The URL itself is not echoed: a healthchecks-style URL is a credential.
    if (url !== null && !/^https?:\/\/[^/\s]+/i.test(url)) this.fail('heartbeat-url', 'must be an http:// or https:// URL');
    const interval = this.duration(o, 'heartbeat-interval', '', { allowZero: false, timer: true }) ?? DEFAULTS.heartbeatIntervalMs;
    if (interval < MIN_HEARTBEAT_INTERVAL_MS) this.fail('heartbeat-interval', `must be at least 1m (as in Litestream), got ${quote(o['heartbeat-interval'])}`);
    return { heartbeatUrl: url, heartbeatIntervalMs: interval };
  }

  /** One `dbs:` entry: a database (`path:`) or a directory of them (`dir:`, as in Litestream 0.5). */
  entry(v: unknown, key: string, defaults: ReplicaDefaults): { db: DbConfig } | { dir: DirConfig } {
    const o = this.object(v, key);
    this.checkKeys(o, key, ['path', 'replicas', 'replica', 'monitor-interval', 'checkpoint-interval', 'busy-timeout', 'min-checkpoint-page-count', 'truncate-page-n', 'snapshot', 'dir', 'pattern', 'recursive', 'watch', ...IGNORED_DB]);
    if (o.dir !== undefined && o.dir !== null) {
      if (o.path !== undefined && o.path !== null) this.fail(`${key}.dir`, 'give either path: or dir:, not both');
      return { dir: readDirEntry(o, key, this, this.dbSettings(o, key, defaults), this.env) };
    }
    for (const k of ['pattern', 'recursive', 'watch']) if (o[k] !== undefined) this.fail(`${key}.${k}`, 'only applies with dir:');
    const p = this.fsPath(o, 'path', key);
    if (!p) this.fail(`${key}.path`, 'required (or dir: with pattern:)');
    const dbPath = path.resolve(expandHome(p, this.env));
    const tooLong = fsPathProblem(dbPath, STAGING_NAME_EXTRA_BYTES);
    if (tooLong) this.fail(`${key}.path`, `the path ${tooLong} (walship keeps .NAME-walship beside it)`);
    return { db: { path: dbPath, ...this.dbSettings(o, key, defaults) } };
  }

  /** What a `path:` entry and a `dir:` entry have alike: the replicas and the capture settings. */
  dbSettings(o: Obj, key: string, defaults: ReplicaDefaults): Omit<DbConfig, 'path'> {
    let replicaList: unknown[];
    if (o.replica !== undefined && o.replicas !== undefined) this.fail(`${key}.replica`, 'use either replica: or replicas:, not both');
    if (o.replica !== undefined) replicaList = [o.replica];
    else if (o.replicas === undefined || o.replicas === null) this.fail(`${key}.replicas`, 'required: at least one replica');
    else if (!Array.isArray(o.replicas)) this.fail(`${key}.replicas`, `expected a list, got ${describe(o.replicas)}`);
    else replicaList = o.replicas;
    if (replicaList!.length === 0) this.fail(`${key}.replicas`, 'the list is empty');
    const single = o.replica !== undefined;
    const replicas = replicaList!.map((r, i) => this.replica(r, single ? `${key}.replica` : `${key}.replicas[${i}]`, defaults));
    nameReplicas(replicas);
    const names = new Set<string>();
    replicas.forEach((r) => {
      if (names.has(r.name)) this.fail(`${r.keyPath}.name`, `replica name ${quote(r.name)} is used twice`);
      names.add(r.name);
    });
    return {
      monitorIntervalMs: this.duration(o, 'monitor-interval', key, { allowZero: false, timer: true }) ?? DEFAULTS.monitorIntervalMs,
      checkpointIntervalMs: this.duration(o, 'checkpoint-interval', key, { allowZero: false, timer: true }) ?? DEFAULTS.checkpointIntervalMs,
      busyTimeoutMs: this.duration(o, 'busy-timeout', key, { allowZero: true, timer: true, wholeMs: true }) ?? DEFAULTS.busyTimeoutMs,
      minCheckpointPageN: this.int(o, 'min-checkpoint-page-count', key, 1) ?? DEFAULTS.minCheckpointPageN,
      truncatePageN: this.int(o, 'truncate-page-n', key, 1) ?? DEFAULTS.truncatePageN,
      replicas,
      keyPath: key,
    };
  }

  replica(v: unknown, key: string, defaults: ReplicaDefaults): ReplicaConfig {
    const o = this.object(v, key);
    this.checkKeys(o, key, [
      'type', 'name', 'url', 'path', 'retention', 'retention-check-interval', 'sync-interval', 'snapshot-interval', 'validation-interval',
      'backlog-limit', 'host', 'user', 'password', 'key-path', 'key-passphrase', 'host-key', 'known-hosts-path', 'insecure-skip-host-key-check',
      ...S3_KEYS, ...S3_REFUSED_KEYS, ...IGNORED_REPLICA,
    ]);
    this.refuseSse(o, key);
    const url = this.text(o, 'url', key);
    const type = this.str(o, 'type', key);
    const p = this.text(o, 'path', key);
    let parsed: ParsedReplicaUrl;
    try {
      if (url) parsed = parseReplicaUrl(url);
      else if (type === 'sftp') parsed = { type: 'sftp' as const, host: '', port: null, user: null, password: null, path: p ?? '' };
      else if (type === 's3') parsed = { type: 's3', bucket: '', path: '', region: null, endpoint: null, forcePathStyle: null, skipVerify: null, partSize: null, concurrency: null };
      else if (p) parsed = parseReplicaUrl(p);
      else this.fail(key, 'needs url: or path:');
    } catch (err) {
      if (err instanceof ReplicaUrlError) this.fail(`${key}.url`, err.message);
      throw err;
    }
    if (type && type !== parsed.type) this.fail(`${key}.type`, `${quote(type)} does not match the URL's scheme "${parsed.type}"`);
    let sftp: SftpSettings | null = null;
    let s3: S3Settings | null = null;
    let replicaPath = parsed.type === 'file' ? path.resolve(expandHome(parsed.path, this.env)) : parsed.path;
    const ownS3 = this.s3Fields(o, key);
    if (parsed.type === 's3') {
      const r = resolveS3({ url: url ? parsed : null, own: ownS3, ownPath: p, top: defaults.s3, env: this.env, key, fail: (k, m) => this.fail(k, m) });
      s3 = r.settings;
      replicaPath = r.path;
    } else {
      for (const k of S3_KEYS) if (o[k] !== undefined) this.fail(`${key}.${k}`, 'only applies to s3 replicas');
    }
    const badPath = parsed.type === 'file' ? fsPathProblem(replicaPath) : null;
    if (badPath) this.fail(`${key}.${url ? 'url' : 'path'}`, `the path ${badPath}`);
    if (parsed.type === 'sftp') {
      const hostField = this.str(o, 'host', key);
      let host = parsed.host;
      let port = parsed.port ?? 22;
      if (hostField) {
        const m = /^(.*?)(?::(\d+))?$/.exec(hostField)!;
        host = m[1]!;
        if (m[2]) port = Number(m[2]);
      }
      if (!host) this.fail(`${key}.host`, 'sftp replica needs a host');
      if (port < 1 || port > 65535) this.fail(`${key}.url`, `port ${port} is out of range`);
      const user = this.str(o, 'user', key) ?? parsed.user;
      if (!user) this.fail(`${key}.user`, `sftp replica needs a user, in the URL (sftp://user@${host}/...) or as user:`);
      if (url && p) replicaPath = p;
      if (!replicaPath || replicaPath === '/') this.fail(`${key}.url`, 'sftp replica needs a path');
      const keyPath = this.fsPath(o, 'key-path', key);
      const knownHostsPath = this.fsPath(o, 'known-hosts-path', key);
      if (keyPath && !existsSync(expandHome(keyPath, this.env))) this.fail(`${key}.key-path`, `file ${keyPath} does not exist`);
      if (knownHostsPath && !existsSync(expandHome(knownHostsPath, this.env))) this.fail(`${key}.known-hosts-path`, `file ${knownHostsPath} does not exist`);
      sftp = {
        host,
        port,
        user,
        password: this.str(o, 'password', key) ?? parsed.password,
        keyPath: keyPath ? expandHome(keyPath, this.env) : null,
        keyPassphrase: this.str(o, 'key-passphrase', key),
        hostKey: this.hostKey(o, key),
        knownHostsPath: knownHostsPath ? expandHome(knownHostsPath, this.env) : null,
        insecureSkipHostKeyCheck: this.bool(o, 'insecure-skip-host-key-check', key) ?? false,
      };
    } else {
      for (const k of ['host', 'user', 'password', 'key-path', 'key-passphrase', 'host-key', 'known-hosts-path', 'insecure-skip-host-key-check']) {
        if (o[k] !== undefined) this.fail(`${key}.${k}`, 'only applies to sftp replicas');
      }
    }
    return {
      name: this.str(o, 'name', key) ?? '',
      type: parsed.type,
      path: replicaPath,
      sftp,
      s3,
      syncIntervalMs: this.duration(o, 'sync-interval', key, { allowZero: true, timer: true }) ?? defaults.syncIntervalMs ?? DEFAULTS.syncIntervalMs,
      retentionMs: this.duration(o, 'retention', key, { allowZero: false }) ?? defaults.retentionMs ?? DEFAULTS.retentionMs,
      retentionCheckIntervalMs: this.duration(o, 'retention-check-interval', key, { allowZero: false, timer: true }) ?? DEFAULTS.retentionCheckIntervalMs,
      snapshotIntervalMs: this.duration(o, 'snapshot-interval', key, { allowZero: false }) ?? defaults.snapshotIntervalMs ?? DEFAULTS.snapshotIntervalMs,
      validationIntervalMs: this.duration(o, 'validation-interval', key, { allowZero: true, timer: true }) ?? defaults.validationIntervalMs,
      backlogLimitBytes: this.size(o, 'backlog-limit', key) ?? DEFAULTS.backlogLimitBytes,
      keyPath: key,
    };
  }
}

interface ReplicaDefaults {
  s3: S3Fields;
  syncIntervalMs: number | null;
  validationIntervalMs: number | null;
  snapshotIntervalMs: number | null;
  retentionMs: number | null;
}



export { redactUrl };
