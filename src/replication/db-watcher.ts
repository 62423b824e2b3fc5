// Tells capture when a database or its WAL changed.
//
// The files themselves are watched with fs.watch (inotify), not chokidar: chokidar answers every raw
// event by stat-ing the file again to decide whether to emit 'change', and a busy WAL makes such
// events hundreds of times a second; profiled at 100 tx/s with sync-interval 0s, that was the
// largest item of walship's CPU. Nothing here needs chokidar's extras for a file that exists.
// A file that does not exist yet cannot be watched: while the database itself is missing, its
// directory is watched with chokidar instead (nothing else happens there then), and `refresh()`
// moves to the files once they exist. A WAL not there yet is added by a later refresh; a watched
// file that is renamed or removed is dropped, and the next refresh watches whatever holds its name.
import type { FSWatcher } from 'chokidar';
import { existsSync, watch, type FSWatcher as FileWatcher } from 'node:fs';
import path from 'node:path';

export type DbChange = 'wal' | 'db';

export class DbWatcher {
  private started = false;
  /** The directory's watcher, only while the database does not exist. */
  private dirWatcher: FSWatcher | null = null;
  /** A directory watch is being set up (chokidar is loaded only then: most databases never need it). */
  private dirWatchPending = false;
  private readonly watched = new Map<string, FileWatcher>();
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
    this.started = true;
    this.refresh();
  }

  /** Watches whichever of the files exists and is not watched yet. Cheap: two stats at most. */
  refresh(): void {
    if (!this.started) return;
    const paths = this.watchWal ? [this.dbPath, this.walPath] : [this.dbPath];
    if (this.watched.size === paths.length) return;
    if (!existsSync(this.dbPath)) {
      this.watchDir();
      return;
    }
    if (this.dirWatcher) this.unwatchDir().catch((err: unknown) => this.onError(err));
    for (const p of paths) {
      if (this.watched.has(p) || !existsSync(p)) continue;
      this.watchFile(p, p === this.dbPath ? 'db' : 'wal');
    }
  }

  private watchFile(p: string, what: DbChange): void {
    let w: FileWatcher;
    try {
      w = watch(p, { persistent: true });
    } catch (err) {
      // Gone between the check and the watch: the next refresh tries again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(err);
      return;
    }
    this.watched.set(p, w);
    const drop = (): void => {
      if (this.watched.get(p) !== w) return;
      this.watched.delete(p);
      w.close();
    };
    w.on('change', (event) => {
      // A rename or removal leaves the watch on an inode that no longer has the name.
      if (event === 'rename') drop();
      this.onChange(what);
    });
    w.on('error', (err) => {
      drop();
      this.onError(err);
    });
  }

  private watchDir(): void {
    if (this.dirWatcher || this.dirWatchPending) return;
    this.dirWatchPending = true;
    const dir = path.dirname(this.dbPath);
    const names = new Set([path.basename(this.dbPath), path.basename(this.walPath)]);
    import('chokidar')
      .then(({ default: chokidar }) => {
        this.dirWatchPending = false;
        // Stopped, or the database appeared, while chokidar loaded.
        if (!this.started || this.dirWatcher || existsSync(this.dbPath)) return this.refresh();
        const w = chokidar.watch(dir, { ignoreInitial: true, persistent: true, depth: 0 });
        // Waiting for the database: only its own names matter in the directory.
        w.on('raw', (_event: string, changed: string) => {
          if (names.has(changed)) this.onChange('db');
        });
        w.on('error', (err: unknown) => this.onError(err));
        this.dirWatcher = w;
      })
      .catch((err: unknown) => {
        this.dirWatchPending = false;
        this.onError(err);
      });
  }

  private async unwatchDir(): Promise<void> {
    const w = this.dirWatcher;
    this.dirWatcher = null;
    await w?.close();
  }

  async close(): Promise<void> {
    this.started = false;
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
    await this.unwatchDir();
  }
}
