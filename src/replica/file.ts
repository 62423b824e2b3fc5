// A replica in a local directory (file:///path or a plain path), laid out as Litestream lays it out:
// <root>/ltx/<level>/<min>-<max>.ltx, each file's mtime set to its header timestamp.
//
// Only regular files count: a FIFO, a device or a symlink under an LTX name is skipped with a
// warning and never opened (opening a FIFO blocks; /dev/zero never ends).
import { constants, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir } from '../util/fs.js';
import { ReplicaConflictError, ReplicaError, type FenceRead, type LtxFileInfo, type ReplicaClient } from './client.js';
import { fenceVersion } from './fence-version.js';
import { describeFile, fenceFilePath, isTempFileName, levelDir, LEVELS, ltxFilePath, parseLtxFileName, tempFileName, type LtxFileId } from './layout.js';
import { DEFAULT_TEMP_FILE_MAX_AGE_MS, staleTempFiles, SweepSchedule } from './temp-files.js';
import { uniqueToken } from '../util/unique-token.js';

const STREAM_CHUNK = 1024 * 1024;
/** No symlink is followed, and opening a FIFO that slipped in does not block. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export interface FileReplicaOptions {
  /** Receives the warnings: a skipped non-regular entry, a sweep that failed. */
  logger?: Logger;
  /** Temporary files nobody touched for this long are swept (temp-files.ts); 15 minutes by default. */
  tempFileMaxAgeMs?: number;
  /** A sweep that failed is tried again this much later, at a write. */
  sweepRetryMs?: number;
}

export class FileReplicaClient implements ReplicaClient {
  readonly type = 'file';
  private readonly log: Logger | undefined;
  /** Temporary files whose removal failed (a read-only filesystem); tried again at later writes. */
  private readonly orphans = new Set<string>();
  /** Temporary files of copies in flight: never swept. */
  private readonly uploading = new Set<string>();
  /** Non-regular entries already warned about, so a listing loop does not repeat the warning. */
  private readonly warned = new Set<string>();
  private readonly sweeps: SweepSchedule;
  private sweeping: Promise<void> | null = null;

  constructor(
    readonly root: string,
    private readonly opts: FileReplicaOptions = {},
  ) {
    this.log = opts.logger?.child({ replica: this.location });
    this.sweeps = new SweepSchedule(opts.sweepRetryMs);
  }

  get location(): string {
    return `file://${this.root}`;
  }

  private levelDir(level: number): string {
    return levelDir(this.root, level);
  }

  private filePath(info: LtxFileId): string {
    return ltxFilePath(this.root, info);
  }

  async listLtxFiles(level: number): Promise<LtxFileInfo[]> {
    const dir = this.levelDir(level);
    let entries: string[];
    try {
      entries = await fsp.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.fail(`list ${dir}`, err);
    }
    const out: LtxFileInfo[] = [];
    for (const name of entries) {
      const r = parseLtxFileName(name);
      if (!r) continue;
      const file = path.join(dir, name);
      // lstat: a symlink is skipped, whatever it points at.
      const st = await fsp.lstat(file).catch(() => null);
      if (!st) continue; // removed meanwhile
      if (!st.isFile()) {
        this.warnNotRegular(file, st);
        continue;
      }
      out.push({ level, ...r, size: st.size, createdAt: st.mtime });
    }
    return out.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
  }

  async writeLtxFile(info: LtxFileInfo, localPath: string, opts: { exclusive?: boolean } = {}): Promise<void> {
    const final = this.filePath(info);
    const dir = path.dirname(final);
    await this.sweepIfDue();
    const tmp = tempFileName(final, uniqueToken());
    this.uploading.add(tmp);
    try {
      await fsp.mkdir(dir, { recursive: true });
      await fsp.copyFile(localPath, tmp);
      const fh = await fsp.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      // The mtime is the header's timestamp; the atime the copy's own time, so a sweep never takes
      // a copy in progress for a leftover (temp-files.ts).
      await fsp.utimes(tmp, new Date(), info.createdAt);
      if (opts.exclusive) await this.placeExclusive(info, tmp, final, localPath);
      else await fsp.rename(tmp, final);
      await fsyncDir(dir);
    } catch (err) {
      await this.discard(tmp);
      if (err instanceof ReplicaConflictError) throw err;
      throw this.fail(`write ${describeFile(info)}`, err);
    } finally {
      this.uploading.delete(tmp);
    }
  }

  /** link(2) refuses an existing target, unlike rename(2). */
  private async placeExclusive(info: LtxFileInfo, tmp: string, final: string, localPath: string): Promise<void> {
    try {
      await fsp.link(tmp, final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [theirs, ours] = await Promise.all([readRegularFile(final), fsp.readFile(localPath)]);
      if (!theirs.equals(ours)) {
        throw new ReplicaConflictError(this.location, `${describeFile(info)} already exists with different contents: another replicator is writing to this replica`);
      }
    }
    await fsp.rm(tmp, { force: true });
  }

  async readLtxFile(info: LtxFileId): Promise<Buffer> {
    try {
      return await readRegularFile(this.filePath(info));
    } catch (err) {
      throw this.fail(`read ${describeFile(info)}`, err);
    }
  }

  async *streamLtxFile(info: LtxFileId): AsyncGenerator<Buffer> {
    const what = `read ${describeFile(info)}`;
    let fh;
    try {
      fh = await openRegularFile(this.filePath(info));
    } catch (err) {
      throw this.fail(what, err);
    }
    try {
      for (;;) {
        const buf = Buffer.allocUnsafe(STREAM_CHUNK);
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(buf, 0, STREAM_CHUNK, null));
        } catch (err) {
          throw this.fail(what, err);
        }
        if (bytesRead === 0) return;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  async deleteLtxFiles(infos: LtxFileInfo[]): Promise<void> {
    if (infos.length > 0) await this.sweepIfDue();
    for (const info of infos) {
      try {
        await fsp.rm(this.filePath(info), { force: true });
      } catch (err) {
        throw this.fail(`delete ${describeFile(info)}`, err);
      }
    }
  }

  async readFence(): Promise<FenceRead | null> {
    const file = fenceFilePath(this.root);
    try {
      const text = await fsp.readFile(file, 'utf8');
      return { text, version: fenceVersion(text) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.fail('read the fence record', err);
    }
  }

  async writeFence(text: string, expected: string | null): Promise<boolean> {
    const final = fenceFilePath(this.root);
    const tmp = `${final}.${uniqueToken()}.tmp`;
    try {
      await fsp.mkdir(this.root, { recursive: true });
      const fh = await fsp.open(tmp, 'wx');
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (expected === null) {
        // link(2) refuses an existing target: two promotions cannot both create the record.
        try {
          await fsp.link(tmp, final);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw err;
        }
      } else {
        const now = await this.readFence();
        if (now?.version !== expected) return false;
        await fsp.rename(tmp, final);
      }
      await fsyncDir(this.root);
      return true;
    } catch (err) {
      if (err instanceof ReplicaError) throw err;
      throw this.fail('write the fence record', err);
    } finally {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  async sweepTemporaryFiles(olderThanMs: number): Promise<number> {
    const { removed, errors } = await this.sweep(olderThanMs);
    if (errors.length > 0) throw this.fail('sweep temporary files', errors[0]);
    return removed.length;
  }

  /** Tries once more to remove what a failed cleanup left; never throws. */
  async close(_graceMs?: number): Promise<void> {
    await this.removeOrphans();
  }

  retryNow(): void {}

  // --- temporary files --------------------------------------------------------------------------

  /** Removes a temporary file after a failure; if that fails too, a later write tries again. */
  private async discard(tmp: string): Promise<void> {
    try {
      await fsp.rm(tmp, { force: true });
    } catch {
      this.orphans.add(tmp);
      this.sweeps.swept(Date.now(), true);
    }
  }

  private async removeOrphans(): Promise<unknown[]> {
    const errors: unknown[] = [];
    for (const tmp of [...this.orphans]) {
      try {
        await fsp.rm(tmp, { force: true });
        this.orphans.delete(tmp);
      } catch (err) {
        errors.push(err);
      }
    }
    return errors;
  }

  /** Before a write or delete: the sweep, when one is due. Never throws. */
  private async sweepIfDue(): Promise<void> {
    if (!this.sweeping && !this.sweeps.isDue()) return;
    this.sweeping ??= (async () => {
      const { errors } = await this.sweep(this.opts.tempFileMaxAgeMs ?? DEFAULT_TEMP_FILE_MAX_AGE_MS);
      const err = errors[0] as NodeJS.ErrnoException | undefined;
      if (err) this.log?.warn({ event: 'tmp_sweep_failed', err: err.message }, 'cannot sweep stale temporary files; trying again later');
    })().finally(() => {
      this.sweeping = null;
    });
    await this.sweeping;
  }

  /** The known leftovers, then every level's temporary files untouched for `olderThanMs`. */
  private async sweep(olderThanMs: number): Promise<{ removed: string[]; errors: unknown[] }> {
    const now = Date.now();
    const errors = await this.removeOrphans();
    const removed: string[] = [];
    let nextDueAt: number | null = null;
    for (const level of LEVELS) {
      const dir = this.levelDir(level);
      let names: string[];
      try {
        names = await fsp.readdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') errors.push(err);
        continue;
      }
      const times = [];
      // Only temporary names are worth a stat: a level may hold thousands of LTX files.
      for (const name of names.filter(isTempFileName)) {
        const st = await fsp.lstat(path.join(dir, name)).catch(() => null);
        if (st?.isFile()) times.push({ name, mtimeMs: st.mtimeMs, atimeMs: st.atimeMs });
      }
      const inUse = new Set([...this.uploading].filter((p) => path.dirname(p) === dir).map((p) => path.basename(p)));
      const decision = staleTempFiles(times, now, olderThanMs, inUse);
      if (decision.nextDueAt !== null) nextDueAt = Math.min(nextDueAt ?? decision.nextDueAt, decision.nextDueAt);
      for (const name of decision.remove) {
        const file = path.join(dir, name);
        try {
          await fsp.rm(file, { force: true });
          removed.push(file);
        } catch (err) {
          errors.push(err);
        }
      }
    }
    this.sweeps.swept(nextDueAt, errors.length > 0 || this.orphans.size > 0);
    if (removed.length > 0) {
      this.log?.info({ event: 'tmp_swept', removed: removed.length, files: removed.slice(0, 10), olderThanMs }, 'removed temporary files that interrupted uploads left');
    }
    return { removed, errors };
  }

  private warnNotRegular(file: string, st: Stats): void {
    if (this.warned.has(file)) return;
    this.warned.add(file);
    this.log?.warn({ event: 'replica_entry_skipped', file, kind: fileKind(st) }, 'not a regular file under an LTX name; skipped');
  }

  private fail(what: string, err: unknown): ReplicaError {
    const e = err as NodeJS.ErrnoException;
    return new ReplicaError(this.location, `${what}: ${e.message}`, { cause: err });
  }
}

function fileKind(st: Stats): string {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'device';
  if (st.isSocket()) return 'socket';
  if (st.isDirectory()) return 'directory';
  return 'other';
}

/** Opens a file for reading only if it is a regular file, following no symlink and never blocking. */
async function openRegularFile(file: string): Promise<fsp.FileHandle> {
  const fh = await fsp.open(file, READ_FLAGS);
  const st = await fh.stat().catch(async (err: unknown) => {
    await fh.close();
    throw err;
  });
  if (!st.isFile()) {
    await fh.close();
    throw new Error(`${file} is a ${fileKind(st)}, not a regular file`);
  }
  return fh;
}

async function readRegularFile(file: string): Promise<Buffer> {
  const fh = await openRegularFile(file);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
