// Watches one directory entry (`watch: true`) for databases appearing and going: one inotify watch
// (Node's fs.watch) on the directory and, with `recursive`, on each subdirectory the entry takes;
// never one per database on top of each replicator's own.
//
// Not chokidar, for a measured reason: chokidar answers every event in a watched directory by
// reading the directory again with an lstat of every entry, and the directory of a directory
// entry is where every database's WAL is written. With 200 databases there and one application
// committing 100 times a second, walship spent 77% of a core in those lstats (14% without the
// watch). fs.watch hands over the name that changed, and nothing else happens: SQLite's -wal,
// -shm and -journal names, where commits land, are dropped at once, and a name the pattern
// matches is handed on after a short pause (a burst of writes is one check). Only a name that might
// be a subdirectory (recursive entries) costs a stat.
import { watch, promises as fsp, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { descendsInto, isCompanionName, matchesEntry, relativeToEntry } from '../config/dir-entry.js';
import type { DirConfig } from '../config/types.js';
import { scanEntry, scanEntryDirs } from './dir-scan.js';

/** How long events on one name are gathered before it is checked. */
const SETTLE_MS = 25;

export interface DirMonitorHandlers {
  /** A file the pattern names changed, appeared or went: look at it. */
  check(file: string): void;
  /** A directory went (recursive entries): look at the databases that were under it. */
  dirGone(dir: string): void;
  error(err: unknown): void;
}

export class DirMonitor {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly entry: DirConfig,
    private readonly on: DirMonitorHandlers,
  ) {}

  /** Resolves once the directory (tree) is watched. */
  async start(): Promise<void> {
    this.watchDir(this.entry.dir);
    if (this.entry.recursive) for (const d of await scanEntryDirs(this.entry)) this.watchDir(d);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Directories watched now (for tests and logs). */
  get watchedDirs(): string[] {
    return [...this.watchers.keys()].sort();
  }

  private watchDir(dir: string): void {
    if (this.closed || this.watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: true }, (_event, name) => {
        if (name) this.onName(dir, name.toString());
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.on.error(new Error(`cannot watch ${dir}: ${code ?? (err as Error).message}`));
      return;
    }
    w.on('error', (err) => {
      // The directory itself went (or became unreadable): its parent's event says which.
      this.unwatch(dir);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.on.error(err);
    });
    this.watchers.set(dir, w);
  }

  private unwatch(dir: string): void {
    for (const [d, w] of this.watchers) {
      if (d === dir || d.startsWith(`${dir}/`)) {
        w.close();
        this.watchers.delete(d);
      }
    }
  }

  private onName(dir: string, name: string): void {
    if (this.closed || isCompanionName(name)) return;
    const full = path.join(dir, name);
    const rel = relativeToEntry(this.entry, full);
    if (rel === null) return;
    if (matchesEntry(this.entry, rel)) this.settle(full);
    else if (descendsInto(this.entry, rel)) void this.maybeDir(full);
  }

  /** A name under a recursive entry: a directory made (watch it, scan it) or gone (let its databases go). */
  private async maybeDir(dir: string): Promise<void> {
    const st = await fsp.lstat(dir).catch(() => null);
    if (this.closed) return;
    if (st?.isDirectory()) {
      if (this.watchers.has(dir)) return;
      this.watchDir(dir);
      try {
        for (const d of await scanEntryDirs(this.entry, dir)) this.watchDir(d);
        for (const file of await scanEntry(this.entry, dir)) this.settle(file);
      } catch (err) {
        this.on.error(err);
      }
    } else if (!st && this.watchers.has(dir)) {
      this.unwatch(dir);
      this.on.dirGone(dir);
    }
  }

  private settle(file: string): void {
    if (this.closed || this.pending.has(file)) return;
    this.pending.set(
      file,
      setTimeout(() => {
        this.pending.delete(file);
        if (!this.closed) this.on.check(file);
      }, SETTLE_MS),
    );
  }
}
