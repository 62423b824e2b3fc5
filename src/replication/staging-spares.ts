// Spent staged files kept for reuse, under `.<db>-walship/spare/`. A level-0 file lives for a few
// milliseconds at sync-interval 0s (captured, uploaded, dropped), and creating and deleting one per
// capture is file-system work that rewriting an existing file does not need:
//   - deleting frees the file's blocks (a discard each on a volume mounted with `discard`) and its
//     inode; creating allocates both again;
//   - ext4 without a journal will not hand out an inode freed in the last 5 to 35 seconds, so each
//     new file's allocation steps over every file deleted in that time: at 35 files a second the
//     open of a new file cost about 0.9 ms of kernel time, 15% of the sidecar's CPU in the bench.
// So a dropped file is renamed here instead (a directory change, no freeing), and the next staged
// file overwrites one of these in place, is cut to its length and renamed onto its final name.
// Level-0 files are dropped in batches (when a level-1 compaction covers them, every 30 s by
// default: about a thousand files at 0s), so the pool holds a batch's worth.
// A spare is never read: its contents are whatever it held, half overwritten after a crash, and
// only a whole, fsynced rewrite is ever renamed out of here. The pool holds small files only and
// is bounded in count and bytes, so it costs at most SPARE_MAX_TOTAL_BYTES of the volume.
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
  /** Spares, newest last; null until the directory was read (once, on first use). */
  private spares: Spare[] | null = null;
  private total = 0;
  private madeDir = false;

  /** `limits`: the bounds above, smaller in tests. */
  constructor(
    stagingDir: string,
    private readonly limits: SpareLimits = LIMITS,
  ) {
    this.dir = path.join(stagingDir, 'spare');
  }

  /** How many spares wait, for tests and diagnosis. */
  get size(): number {
    return this.loaded().length;
  }

  /** Their bytes, for tests and diagnosis. */
  get bytes(): number {
    this.loaded();
    return this.total;
  }

  /** A spare to overwrite, taken out of the pool; null when there is none. */
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
    const spares = this.loaded();
    if (!this.fits(spares.length, this.total, bytes)) return false;
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
    spares.push({ file: spare, bytes });
    this.total += bytes;
    return true;
  }

  /** A spare that could not be used (vanished, unwritable) is forgotten; it is deleted if still there. */
  discard(spare: string): void {
    rmSync(spare, { force: true });
  }

  /** The pool as the directory holds it, read once: spares left by the last run are used too. */
  private loaded(): Spare[] {
    if (this.spares) return this.spares;
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
      const bytes = statSync(file, { throwIfNoEntry: false })?.size;
      if (bytes === undefined) continue;
      if (this.fits(spares.length, total, bytes)) {
        spares.push({ file, bytes });
        total += bytes;
      } else {
        rmSync(file, { force: true });
      }
    }
    this.spares = spares;
    this.total = total;
    return spares;
  }

  /** Whether one more spare of `bytes` stays within the bounds, with `count` of `total` bytes kept. */
  private fits(count: number, total: number, bytes: number): boolean {
    return count < this.limits.count && bytes <= this.limits.fileBytes && total + bytes <= this.limits.totalBytes;
  }
}
