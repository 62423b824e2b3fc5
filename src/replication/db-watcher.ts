// Tells capture when a database or its WAL changed: chokidar on the files themselves.
//
// Watching the files, not their directory: chokidar answers every event on a watched directory by
// reading the whole directory again (readdir plus an lstat per entry), and a busy WAL makes such
// events hundreds of times a second; profiled at 100 tx/s, that re-reading was a third of walship's
// CPU. A file that does not exist yet cannot be watched: while the database itself is missing, the
// directory is watched instead (nothing else happens there then, so its re-reads cost nothing), and
// `refresh()` moves to the files once they exist. A WAL not there yet is added by a later refresh.
import chokidar, { type FSWatcher } from 'chokidar';
import { existsSync } from 'node:fs';
import path from 'node:path';

export type DbChange = 'wal' | 'db';

export class DbWatcher {
  private watcher: FSWatcher | null = null;
  private readonly watched = new Set<string>();
  /** The directory is watched while the database does not exist. */
  private watchingDir = false;
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
    const w = chokidar.watch([], { ignoreInitial: true, persistent: true, depth: 0 });
    // chokidar holds back a 'change' that follows another within 50 ms; its raw fs.watch events come
    // unthrottled, so a commit wakes capture at once.
    w.on('raw', (_event: string, changed: string, details: unknown) => {
      const watched = (details as { watchedPath?: string } | null)?.watchedPath;
      if (this.watchingDir && watched === path.dirname(this.dbPath)) {
        // Waiting for the database: only its own name matters in the directory.
        if (changed === path.basename(this.dbPath) || changed === path.basename(this.walPath)) this.onChange('db');
        return;
      }
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
    const dir = path.dirname(this.dbPath);
    if (!existsSync(this.dbPath)) {
      if (!this.watchingDir) {
        this.watchingDir = true;
        w.add(dir);
      }
      return;
    }
    if (this.watchingDir) {
      this.watchingDir = false;
      w.unwatch(dir);
    }
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
