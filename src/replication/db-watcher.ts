// Tells capture when a database or its WAL changed: chokidar on the files themselves.
//
// Watching the files, not their directory: chokidar answers every event on a watched directory by
// reading the whole directory again (readdir plus an lstat per entry), and a busy WAL makes such
// events hundreds of times a second; profiled at 100 tx/s, that re-reading was a third of walship's
// CPU. A file that does not exist yet (no WAL, or a database still to be created) cannot be
// watched; `refresh()` adds it once it exists, and the fallback poll covers the time until then.
import chokidar, { type FSWatcher } from 'chokidar';
import { existsSync } from 'node:fs';

export type DbChange = 'wal' | 'db';

export class DbWatcher {
  private watcher: FSWatcher | null = null;
  private readonly watched = new Set<string>();
  private readonly walPath: string;

  /**
   * `watchWal: false` watches the database file alone: its changes are checkpoints (which may be
   * waiting for walship's pin), few and important. Commits, many, then wait for the poll.
   */
  constructor(
    private readonly dbPath: string,
    private readonly watchWal: boolean,
    private readonly onChange: (what: DbChange) => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.walPath = `${dbPath}-wal`;
  }

  start(): void {
    const w = chokidar.watch([], { ignoreInitial: true, persistent: true });
    // chokidar holds back a 'change' that follows another within 50 ms; its raw fs.watch events come
    // unthrottled, so a commit wakes capture at once.
    w.on('raw', (_event: string, _changed: string, details: unknown) => {
      const watched = (details as { watchedPath?: string } | null)?.watchedPath;
      this.onChange(watched === this.dbPath ? 'db' : 'wal');
    });
    w.on('unlink', (p: string) => this.watched.delete(p));
    w.on('error', (err: unknown) => this.onError(err));
    this.watcher = w;
    this.refresh();
  }

  /** Watches whichever of the files exists and is not watched yet. Cheap: two stats at most. */
  refresh(): void {
    const w = this.watcher;
    const paths = this.watchWal ? [this.dbPath, this.walPath] : [this.dbPath];
    if (!w || this.watched.size === paths.length) return;
    for (const p of paths) {
      if (this.watched.has(p) || !existsSync(p)) continue;
      this.watched.add(p);
      w.add(p);
    }
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = null;
    this.watched.clear();
  }
}
