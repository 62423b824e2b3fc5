// Spent staged files kept for reuse, under `.<db>-walship/spare/`. Level-0 files are dropped in
// batches, once a level-1 compaction covers them and every replica has them (every 30 s by
// default: about a thousand files at sync-interval 0s), and creating one new file per capture
// after deleting so many is file-system work that rewriting an existing file does not need:
//   - deleting frees the file's blocks (a discard each on a volume mounted with `discard`) and its
//     inode; creating allocates both again;
//   - ext4 without a journal will not hand out an inode freed in the last 5 to 35 seconds, so each
//     new file's allocation steps over every file deleted in that time: at 35 files a second the
//     open of a new file cost about 0.9 ms of kernel time, 15% of the main thread in a profile.
// So a dropped file is renamed here instead (a directory change, no freeing), and a later staged
// file overwrites one of these in place, is cut to its length, fsynced and renamed onto its name.
//
// ext4 refuses those inodes for crash safety, and reuse must keep it: were a power cut to lose the
// rename that took a file's old name away but keep the one that gave it a new name, the old name
// would show the new file's bytes. So a spare is only written over once the directory it was
// renamed out of has been fsynced (settle()), and a spare with a second name (a link count over 1,
// after such a crash) is never written over. A spare is never read: only a whole, fsynced rewrite
// is ever renamed out of here. The pool holds small files only and is bounded in count and bytes,
// so it costs at most SPARE_MAX_TOTAL_BYTES of the volume.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { uniqueToken } from '../util/unique-token.js';

/** Spares kept at most; a drop past this (or past SPARE_MAX_TOTAL_BYTES) deletes the file. */
export const SPARE_COUNT = 4096;
/** Bytes of spares kept at most. */
export const SPARE_MAX_TOTAL_BYTES = 16 * 1024 * 1024;
/** Larger files are deleted when dropped: reusing them would only free their blocks later. */
export const SPARE_MAX_BYTES = 256 * 1024;

const SPARE_NAME = /^spare-[0-9a-f]{8}$/;

interface Spare {
  file: string;
  bytes: number;
}

export interface SpareLimits {
  count: number;
  totalBytes: number;
  fileBytes: number;
}

const LIMITS: SpareLimits = { count: SPARE_COUNT, totalBytes: SPARE_MAX_TOTAL_BYTES, fileBytes: SPARE_MAX_BYTES };

export class SparePool {
  readonly dir: string;
  /** Spares that may be written over, newest last; null until the directory was read (once, on first use). */
  private ready: Spare[] | null = null;
  /** Spares whose old names are not yet durably gone, and the directories that would make them so. */
  private pending: Spare[] = [];
  private readonly pendingDirs = new Set<string>();
  private total = 0;
  private madeDir = false;

  /** `limits`: the bounds above, smaller in tests. */
  constructor(
    stagingDir: string,
    private readonly limits: SpareLimits = LIMITS,
  ) {
    this.dir = path.join(stagingDir, 'spare');
  }

  /** How many spares wait, settled or not, for tests and diagnosis. */
  get size(): number {
    return this.loaded().length + this.pending.length;
  }

  /** Their bytes, for tests and diagnosis. */
  get bytes(): number {
    this.loaded();
    return this.total;
  }

  /** Directories to fsync before the spares renamed out of them may be written over (see settle()). */
  get unsettledDirs(): readonly string[] {
    return this.loaded().length === 0 ? [...this.pendingDirs] : [];
  }

  /** The directories unsettledDirs named have been fsynced: their spares may be written over. */
  settle(): void {
    this.loaded().push(...this.pending);
    this.pending = [];
    this.pendingDirs.clear();
  }

  /** The directories could not be fsynced: the spares waiting on them are deleted instead. */
  dropUnsettled(): void {
    for (const spare of this.pending) {
      rmSync(spare.file, { force: true });
      this.total -= spare.bytes;
    }
    this.pending = [];
    this.pendingDirs.clear();
  }

  /** A spare to overwrite, taken out of the pool; null when none is settled. */
  take(): string | null {
    const spare = this.loaded().pop();
    if (!spare) return null;
    this.total -= spare.bytes;
    return spare.file;
  }

  /**
   * Moves `file` (of `bytes`) into the pool. False when the pool is full or the file too large, or
   * when the rename failed for any reason but the file being gone: the caller deletes it then.
   */
  keep(file: string, bytes: number): boolean {
    const count = this.loaded().length + this.pending.length;
    if (!this.fits(count, this.total, bytes)) return false;
    const spare = path.join(this.dir, `spare-${uniqueToken()}`);
    try {
      if (!this.madeDir) {
        mkdirSync(this.dir, { recursive: true });
        this.madeDir = true;
      }
      renameSync(file, spare);
    } catch (err) {
      // Already gone is what the caller wanted. Otherwise (the directory went, a refusal) the
      // caller deletes the file as it would have, and the directory is made again next time.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(file)) return true;
      this.madeDir = false;
      return false;
    }
    this.pending.push({ file: spare, bytes });
    this.pendingDirs.add(path.dirname(file));
    this.total += bytes;
    return true;
  }

  /** A spare that could not be used (vanished, unwritable, a second name) is forgotten; its name here is deleted. */
  discard(spare: string): void {
    rmSync(spare, { force: true });
  }

  /**
   * The pool as the directory holds it, read once: spares left by the last run are used too (the
   * run that left them is gone, so were their old names, unless a power cut brought one back: a
   * spare with another name is deleted here, the other name kept).
   */
  private loaded(): Spare[] {
    if (this.ready) return this.ready;
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
      this.madeDir = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const spares: Spare[] = [];
    let total = 0;
    for (const n of names) {
      // Any other name is left alone; spares past the bounds (a larger pool's) are deleted.
      if (!SPARE_NAME.test(n)) continue;
      const file = path.join(this.dir, n);
      const st = statSync(file, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isFile() && st.nlink === 1 && this.fits(spares.length, total, st.size)) {
        spares.push({ file, bytes: st.size });
        total += st.size;
      } else {
        rmSync(file, { force: true });
      }
    }
    this.ready = spares;
    this.total = total;
    return spares;
  }

  /** Whether one more spare of `bytes` stays within the bounds, with `count` of `total` bytes kept. */
  private fits(count: number, total: number, bytes: number): boolean {
    return count < this.limits.count && bytes <= this.limits.fileBytes && total + bytes <= this.limits.totalBytes;
  }
}
