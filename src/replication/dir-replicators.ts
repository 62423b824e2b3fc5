// The databases of directory entries, while `replicate` runs: found by a scan at start and, with
// `watch`, by a DirMonitor later; each one that is a WAL-mode SQLite database gets its own
// DbReplicator, started when it appears and stopped (shipping what it captured, releasing its lock)
// when it goes. A file the pattern names that is not such a database gets one warning and is left
// alone: nothing is opened for writing, no staging directory is made beside it.
import type { Logger } from 'pino';
import { dbConfigFor, relativeToEntry } from '../config/dir-entry.js';
import type { DbFileKind } from '../sqlite/db-header.js';
import type { DbConfig, DirConfig } from '../config/types.js';
import type { DbReplicator } from './db-replicator.js';
import { DirMonitor } from './dir-monitor.js';
import { LockHeldError } from './replicator-lock.js';
import { probeDbFile, scanEntry } from './dir-scan.js';
import { ConfigError } from '../config/config-error.js';
import { replicaIdentity } from '../config/overlap.js';
import { eachLimited } from '../util/limit.js';

/** Databases found at start whose replicators start at once (each takes a lock, reads staging, lists its replicas). */
const STARTS_AT_ONCE = 8;

export interface DirReplicatorsHooks {
  /** Builds (does not start) the replicator of a database found. */
  make(db: DbConfig): DbReplicator;
  /** A replicator started: the service lists it, its metrics are declared. */
  added(r: DbReplicator, db: DbConfig): void;
  /** A replicator stopped for good (its database went). */
  removed(r: DbReplicator): void;
}

interface Active {
  replicator: DbReplicator;
  entry: DirConfig;
  db: DbConfig;
}

export class DirReplicators {
  private readonly active = new Map<string, Active>();
  /** Files already warned about (not a database, not WAL, a failed start), with what was said. */
  private readonly warned = new Map<string, string>();
  /** One chain of checks per file, so a start and a stop of one database never overlap. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly monitors: DirMonitor[] = [];
  /** Replica locations in use (replicaIdentity), by the database that has them. */
  private readonly owners = new Map<string, string>();
  private stopping = false;

  private readonly staticPaths: ReadonlySet<string>;

  constructor(
    private readonly entries: readonly DirConfig[],
    /** Databases configured with `path:`: a directory entry leaves them (and their replicas) to their own entry. */
    staticDbs: readonly DbConfig[],
    private readonly hooks: DirReplicatorsHooks,
    private readonly log: Logger,
  ) {
    this.staticPaths = new Set(staticDbs.map((d) => d.path));
    for (const d of staticDbs) for (const r of d.replicas) this.owners.set(replicaIdentity(r), d.path);
  }

  /** Paths of the databases being replicated now. */
  get paths(): string[] {
    return [...this.active.keys()];
  }

  /**
   * Scans every entry and starts what it finds, then starts the watches. An entry without `watch`
   * that finds nothing is a config error, as in Litestream (nothing would ever be replicated).
   */
  async start(): Promise<void> {
    for (const entry of this.entries) {
      // Watch before scanning: a database created during the scan is then seen by one or the other.
      if (entry.watch) {
        const monitor = new DirMonitor(entry, {
          check: (file) => void this.check(entry, file),
          dirGone: (dir) => {
            for (const [file, a] of this.active) if (a.entry === entry && file.startsWith(`${dir}/`)) void this.check(entry, file);
          },
          error: (err) => this.log.warn({ dir: entry.dir, event: 'dir_watch_error', err: String(err) }, 'directory watcher error'),
        });
        await monitor.start();
        this.monitors.push(monitor);
      }
      await eachLimited(await scanEntry(entry), STARTS_AT_ONCE, (file) => this.check(entry, file));
      const mine = [...this.active.values()].filter((a) => a.entry === entry).length;
      if (!entry.watch && mine === 0) {
        throw new ConfigError(`${entry.keyPath}.dir: no WAL-mode SQLite database in ${entry.dir} matches ${JSON.stringify(entry.pattern)}${entry.recursive ? ' (recursive)' : ''}; add watch: true to pick databases up as they are created`);
      }
      this.log.info({ dir: entry.dir, event: 'dir_scanned', pattern: entry.pattern, recursive: entry.recursive, watch: entry.watch, dbs: mine }, 'directory entry scanned');
    }
  }

  /** Stops the watches and every replicator (each ships what it captured). True if all shipped. */
  async shutdown(): Promise<boolean> {
    this.stopping = true;
    await Promise.all(this.monitors.map((m) => m.close()));
    await Promise.all([...this.chains.values()]);
    const results = await Promise.all([...this.active.values()].map((a) => a.replicator.shutdown()));
    this.active.clear();
    return results.every(Boolean);
  }

  /** Looks at one file and starts, keeps or stops its replicator. Never throws. */
  check(entry: DirConfig, file: string): Promise<void> {
    const next = (this.chains.get(file) ?? Promise.resolve()).then(() => this.decide(entry, file));
    const settled = next.catch((err: unknown) => this.warnOnce(file, `check failed: ${(err as Error).message}`, 'dir_check_failed'));
    this.chains.set(file, settled);
    void settled.then(() => {
      if (this.chains.get(file) === settled) this.chains.delete(file);
    });
    return settled;
  }

  private async decide(entry: DirConfig, file: string): Promise<void> {
    const kind = await probeDbFile(file);
    // Found by two entries (overlapping directories): the first one replicates it.
    const current = this.active.get(file);
    if (current && current.entry !== entry) return this.warnOnce(file, `is also under ${entry.keyPath}; ${current.entry.keyPath} replicates it`, 'dir_db_duplicate');
    if (kind === 'wal') {
      if (current || this.stopping) return;
      await this.add(entry, file);
      return;
    }
    if (kind === 'empty') return;
    if (current) {
      await this.letGo(file, current, kind === 'missing' ? 'deleted' : kind);
    } else if (kind === 'missing' || kind === 'not-a-file') {
      this.warned.delete(file);
      return;
    }
    if (kind === 'not-sqlite' || kind === 'not-wal') this.warnOnce(file, skipReason(kind), 'dir_file_skipped');
  }

  private async add(entry: DirConfig, file: string): Promise<void> {
    if (this.staticPaths.has(file)) return this.warnOnce(file, `is also configured with path:; ${entry.keyPath} leaves it to that entry`, 'dir_db_duplicate');
    const rel = relativeToEntry(entry, file)!;
    const db = dbConfigFor(entry, rel);
    // The config's overlap checks make each derived location unique; this keeps it so whatever
    // was found, rather than trusting it.
    const clash = db.replicas.map((r) => this.owners.get(replicaIdentity(r))).find((o) => o !== undefined);
    if (clash) return this.warnOnce(file, `would share a replica location with ${clash}; not replicated`, 'dir_db_overlap');
    const replicator = this.hooks.make(db);
    try {
      await replicator.start();
    } catch (err) {
      // Another replicator holds the database: nothing was taken, nothing was opened. Past the
      // lock, whatever the start took is given back before the next attempt.
      if (err instanceof LockHeldError) await Promise.all(replicator.shippers.map((sh) => sh.client.close().catch(() => undefined)));
      else await replicator.shutdown().catch(() => undefined);
      this.warnOnce(file, `cannot replicate it: ${(err as Error).message}`, 'dir_db_failed');
      return;
    }
    if (this.stopping) {
      await replicator.shutdown();
      return;
    }
    this.warned.delete(file);
    this.active.set(file, { replicator, entry, db });
    for (const r of db.replicas) this.owners.set(replicaIdentity(r), file);
    this.hooks.added(replicator, db);
    this.log.info({ db: file, dir: entry.dir, event: 'dir_db_added', replicas: db.replicas.map((r) => r.path) }, 'database found; replicating it');
  }

  private async letGo(file: string, a: Active, why: string): Promise<void> {
    this.active.delete(file);
    for (const r of a.db.replicas) this.owners.delete(replicaIdentity(r));
    this.hooks.removed(a.replicator);
    const shipped = await a.replicator.shutdown();
    this.log.info({ db: file, dir: a.entry.dir, event: 'dir_db_removed', reason: why, shipped }, 'database gone; stopped replicating it');
  }

  private warnOnce(file: string, message: string, event: string): void {
    if (this.warned.get(file) === message) return;
    this.warned.set(file, message);
    this.log.warn({ db: file, event }, `${file} ${message}`);
  }
}

/** The one warning a skipped file gets. */
function skipReason(kind: Exclude<DbFileKind, 'wal' | 'empty'>): string {
  return kind === 'not-sqlite'
    ? 'matches the pattern but is not a SQLite database; skipped, left untouched'
    : 'is a SQLite database not in WAL mode; skipped, left untouched (walship replicates WAL-mode databases: PRAGMA journal_mode=WAL)';
}
