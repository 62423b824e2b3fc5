// Watches one directory entry (`watch: true`) for databases appearing and going: chokidar on the
// directory (and, with `recursive`, its subdirectories), one watcher per entry, never per database.
//
// chokidar is told to ignore every file, so it sets no watch on the databases and never stats
// them: it keeps one watch per directory, and each event there comes through its `raw` event as
// the name that changed. A name the pattern matches is handed on (after a short pause, so a burst
// of writes is one check) and the owner looks at the file; SQLite's -wal, -shm and -journal files,
// where commits land, are dropped at once by name.
import chokidar, { type FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { descendsInto, isStagingDirName, matchesEntry, relativeToEntry } from '../config/dir-entry.js';
import type { DirConfig } from '../config/types.js';
import { scanEntry } from './dir-scan.js';

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
  private watcher: FSWatcher | null = null;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly entry: DirConfig,
    private readonly on: DirMonitorHandlers,
  ) {}

  /** Resolves once the directory (tree) is watched. */
  async start(): Promise<void> {
    const entry = this.entry;
    const ignored = (p: string, stats?: Stats): boolean => {
      if (p === entry.dir) return false;
      if (isStagingDirName(path.basename(p))) return true;
      if (!stats) return false;
      if (!stats.isDirectory()) return true;
      const rel = relativeToEntry(entry, p);
      return rel === null || !descendsInto(entry, rel);
    };
    const w = chokidar.watch(entry.dir, { ignoreInitial: true, persistent: true, ignored, depth: entry.recursive ? 63 : 0, followSymlinks: false });
    w.on('raw', (_event: string, name: string | null, details: unknown) => {
      const dir = (details as { watchedPath?: string } | null)?.watchedPath;
      if (!name || !dir) return;
      const file = path.join(dir, name);
      const rel = relativeToEntry(entry, file);
      if (rel !== null && matchesEntry(entry, rel)) this.settle(file);
    });
    // A directory created under a recursive entry may hold databases made before its watch began.
    w.on('addDir', (dir: string) => void this.scanNew(dir));
    w.on('unlinkDir', (dir: string) => this.on.dirGone(dir));
    w.on('error', (err: unknown) => this.on.error(err));
    this.watcher = w;
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    await this.watcher?.close();
    this.watcher = null;
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

  private async scanNew(dir: string): Promise<void> {
    if (dir === this.entry.dir || this.closed) return;
    try {
      for (const file of await scanEntry(this.entry, dir)) this.settle(file);
    } catch (err) {
      this.on.error(err);
    }
  }
}
