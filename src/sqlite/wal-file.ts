// The WAL file, held open from one capture pass to the next while the same file (inode) has the
// name: opening and closing it every pass were two trips through libuv's thread pool each time, at
// sync-interval 0s a few dozen times a second. SQLite takes no locks on the WAL file itself, so
// this descriptor, unlike one of the database file, can be closed at any time.
import { fstatSync, promises as fsp, statSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

export class WalFile {
  private fh: FileHandle | null = null;

  constructor(readonly path: string) {}

  /**
   * The open WAL, or null when there is none. A WAL removed or replaced since the last call (the
   * application's last connection deletes it) is closed, and the file now at the name opened.
   */
  async current(): Promise<FileHandle | null> {
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (this.fh && st && this.stillNamed(this.fh, st)) return this.fh;
    await this.close();
    if (!st) return null;
    try {
      this.fh = await fsp.open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return this.fh;
  }

  /**
   * The open file is the one at the name: same device and inode, and not removed. (A removed file
   * has no links left; without that check, a new WAL given the freed inode number would look like
   * the old one, and the passes would go on reading the removed file.)
   */
  private stillNamed(fh: FileHandle, named: Stats): boolean {
    const open = fstatSync(fh.fd);
    return open.nlink > 0 && open.ino === named.ino && open.dev === named.dev;
  }

  /** The WAL's last modification, in ms since the epoch. Synchronous: an fstat of a local file. */
  mtimeMs(fh: FileHandle): number {
    return fstatSync(fh.fd).mtimeMs;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
  }
}
