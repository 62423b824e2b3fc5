// The WAL file, held open from one capture pass to the next while the same file (inode) has the
// name: opening and closing it every pass were two trips through libuv's thread pool each time, at
// sync-interval 0s a few dozen times a second. SQLite takes no locks on the WAL file itself, so
// this descriptor, unlike one of the database file, can be closed at any time.
import { fstatSync, statSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { openOrNull } from '../util/fs.js';

export class WalFile {
  private fh: FileHandle | null = null;

  constructor(readonly path: string) {}

  /**
   * The open WAL, or null when there is none. A WAL removed or replaced since the last call (the
   * application's last connection deletes it) is closed, and the file now at the name opened.
   * Two synchronous stats of a local file, no trip through the thread pool while the WAL stays.
   */
  async current(): Promise<FileHandle | null> {
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (this.fh && st && this.stillNamed(this.fh, st)) return this.fh;
    await this.close();
    if (!st) return null;
    this.fh = await openOrNull(this.path);
    return this.fh;
  }

  /**
   * The open file is the one at the name: same device and inode. (A removed WAL's inode cannot be
   * given to a new file while this descriptor holds it, so a new WAL always differs.)
   */
  private stillNamed(fh: FileHandle, named: Stats): boolean {
    const open = fstatSync(fh.fd);
    return open.ino === named.ino && open.dev === named.dev;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
  }
}
