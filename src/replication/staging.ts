// The local staging directory `.<db>-walship/` beside the database: captured LTX files wait here,
// fsynced, until every replica has them.
import { closeSync, mkdirSync, promises as fsp, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { LtxFileInfo } from '../replica/client.js';
import { levelDir, ltxFileName, ltxFilePath, parseLtxFileName } from '../replica/layout.js';
import { stagingDirOf } from '../config/staging-path.js';
import { closeQuietly, cutTo, linksOf, openForRewrite, openForWrite, stampTimes, syncFd, writeAll } from '../util/fd-write.js';
import { SparePool, type SpareLimits } from './staging-spares.js';
import { fsyncDir, unlinkIfExists } from '../util/fs.js';

/** Staged files up to this size are read synchronously (see read()). */
const SMALL_READ_BYTES = 64 * 1024;

export class Staging {
  readonly dir: string;
  /**
   * Listings per level, read from disk once and then kept up to date by write() and remove(): only
   * this process writes here (the replicator lock), and the shipping path lists on every pass.
   */
  private readonly index = new Map<number, Map<string, LtxFileInfo>>();
  /** Each level's listing in order, built from the index when asked for and dropped when the level changes. */
  private readonly sorted = new Map<number, readonly LtxFileInfo[]>();
  /** Level directories known to exist: a write is then no mkdir (one fewer trip to the thread pool). */
  private readonly madeDirs = new Set<string>();
  /** A level-0 rename is not yet durable (see write() and syncNames()). */
  private level0Unsynced = false;
  /** Dropped files, rewritten by the next writes instead of new ones (see staging-spares.ts). */
  readonly spares: SparePool;

  /** `spareLimits`: the spare pool's bounds (staging-spares.ts's), smaller in tests. */
  constructor(
    readonly dbPath: string,
    spareLimits?: SpareLimits,
  ) {
    this.dir = stagingDirOf(dbPath);
    this.spares = new SparePool(this.dir, spareLimits);
  }

  levelDir(level: number): string {
    return levelDir(this.dir, level);
  }

  filePath(level: number, minTXID: number, maxTXID: number): string {
    return ltxFilePath(this.dir, { level, minTXID, maxTXID });
  }

  /** The level's files, by TXID. Kept between calls: the shipping path lists on every pass. */
  async list(level: number): Promise<readonly LtxFileInfo[]> {
    const known = this.sorted.get(level);
    if (known) return known;
    const files = [...(await this.levelIndex(level)).values()].sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
    this.sorted.set(level, files);
    return files;
  }

  private async levelIndex(level: number): Promise<Map<string, LtxFileInfo>> {
    const cached = this.index.get(level);
    if (cached) return cached;
    const files = new Map<string, LtxFileInfo>();
    let names: string[] = [];
    try {
      names = await fsp.readdir(this.levelDir(level));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    for (const name of names) {
      const r = parseLtxFileName(name);
      if (!r) continue;
      const st = await fsp.stat(path.join(this.levelDir(level), name)).catch(() => null);
      if (st) files.set(name, { level, ...r, size: st.size, createdAt: st.mtime });
    }
    this.index.set(level, files);
    return files;
  }

  /**
   * Writes chunks to a temporary name, stamps its time, fsyncs, renames into place and, except for
   * level 0, fsyncs the directory. A level-0 file's name is made durable by the next syncNames(),
   * not by the capture that wrote it: before the file is uploaded (a name a power cut could take
   * must never be on a replica: the next start would reuse its TXID for other commits when the
   * replica cannot be reached), before walship's own checkpoints and at a stop. One directory
   * fsync then covers every file captured since, and none is on capture's path. A name lost to a
   * power cut costs history, not commits the database kept: its frames are still in the WAL, or,
   * once a checkpoint has taken them, the next start finds its position gone and captures every page.
   */
  async write(level: number, minTXID: number, maxTXID: number, chunks: AsyncIterable<Buffer[]>, timestamp: number): Promise<LtxFileInfo> {
    const dir = this.levelDir(level);
    const final = this.filePath(level, minTXID, maxTXID);
    // Only the fsync goes through the thread pool (see util/fd-write.ts).
    const { fd, file, reused } = await this.openNew(dir, `${final}.tmp`);
    const when = new Date(timestamp);
    let size = 0;
    try {
      for await (const batch of chunks) {
        if (batch.length === 0) continue;
        size += await writeAll(fd, batch);
      }
      if (reused) cutTo(fd, size);
      // Before the fsync, so the time is as durable as the contents.
      stampTimes(fd, when);
      await syncFd(fd);
    } catch (err) {
      closeQuietly(fd);
      if (reused) this.spares.discard(file);
      else await unlinkIfExists(file);
      throw err;
    }
    closeSync(fd);
    this.place(dir, file, final);
    if (level === 0) this.level0Unsynced = true;
    else await fsyncDir(dir);
    const info = { level, minTXID, maxTXID, size, createdAt: when };
    (await this.levelIndex(level)).set(path.basename(final), info);
    // A new newest file (each capture's) extends the listing; anything else rebuilds it when asked.
    const known = this.sorted.get(level);
    const last = known?.[known.length - 1];
    if (known && (!last || last.maxTXID < minTXID)) this.sorted.set(level, [...known, info]);
    else this.sorted.delete(level);
    return info;
  }

  /**
   * The file a new staged file is written to: a spare, rewritten in place, or else `tmp` in `dir`,
   * created. Either way `dir` exists afterwards, for the rename onto the final name.
   */
  private async openNew(dir: string, tmp: string): Promise<{ fd: number; file: string; reused: boolean }> {
    // Spares only once their old names are durably gone (see staging-spares.ts): one directory
    // fsync for a whole batch of dropped files.
    const unsettled = this.spares.unsettledDirs;
    if (unsettled.length > 0) {
      try {
        for (const d of unsettled) await fsyncDir(d);
        this.spares.settle();
      } catch {
        // A directory that went or cannot be synced: those spares are deleted, and a new file does.
        this.spares.dropUnsettled();
      }
    }
    for (let spare = this.spares.take(); spare !== null; spare = this.spares.take()) {
      let fd: number | null = null;
      try {
        fd = openForRewrite(spare);
        // A second name (a power cut between a drop and its directory's fsync) is never written over.
        if (linksOf(fd) !== 1) throw new Error(`${spare} has another name`);
        await this.ensureDir(dir);
        return { fd, file: spare, reused: true };
      } catch {
        // Gone, unwritable or linked elsewhere: a new file does instead.
        if (fd !== null) closeQuietly(fd);
        this.spares.discard(spare);
      }
    }
    return { fd: await this.create(dir, tmp), file: tmp, reused: false };
  }

  /** Renames the written file onto its final name, making the directory again if it went meanwhile. */
  private place(dir: string, file: string, final: string): void {
    try {
      renameSync(file, final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(dir, { recursive: true });
      renameSync(file, final);
    }
  }

  /** Opens `file` for writing in `dir` (a descriptor), creating the directory the first time (or if it went). */
  private async create(dir: string, file: string): Promise<number> {
    await this.ensureDir(dir);
    try {
      return openForWrite(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.madeDirs.delete(dir);
      await this.ensureDir(dir);
      return openForWrite(file);
    }
  }

  /** Makes `dir` unless this staging made it already (or saw it). */
  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    this.madeDirs.add(dir);
  }

  /**
   * Writes a file that is not part of the staged levels (a merged upload), fsynced, under
   * `scratch/`. Returns its path and size; the caller removes it. Leftovers go at the next start.
   */
  async writeScratch(name: string, chunks: AsyncIterable<Buffer[]>): Promise<{ path: string; size: number }> {
    const dir = path.join(this.dir, 'scratch');
    const file = path.join(dir, name);
    const fd = await this.create(dir, file);
    let size = 0;
    try {
      for await (const batch of chunks) {
        if (batch.length === 0) continue;
        size += await writeAll(fd, batch);
      }
      await syncFd(fd);
    } catch (err) {
      closeQuietly(fd);
      await fsp.rm(file, { force: true });
      throw err;
    }
    closeSync(fd);
    return { path: file, size };
  }

  /**
   * A staged file's bytes. A small one (every level-0 file but a bulk load's) is read at once: it
   * was written moments ago, so the page cache holds it and the read costs microseconds, where the
   * asynchronous read is five trips through the thread pool (open, fstat, two reads, close) for each
   * of the thousand files a level-1 compaction can take at sync-interval 0s.
   */
  async read(level: number, minTXID: number, maxTXID: number): Promise<Buffer> {
    const file = this.filePath(level, minTXID, maxTXID);
    const known = this.index.get(level)?.get(ltxFileName(minTXID, maxTXID));
    if (known && known.size <= SMALL_READ_BYTES) return readFileSync(file);
    return fsp.readFile(file);
  }

  /** Drops a staged file: kept as a spare for the next write when it is small, deleted otherwise. */
  async remove(info: LtxFileInfo): Promise<void> {
    const file = this.filePath(info.level, info.minTXID, info.maxTXID);
    if (!this.spares.keep(file, info.size)) await unlinkIfExists(file);
    (await this.levelIndex(info.level)).delete(ltxFileName(info.minTXID, info.maxTXID));
    this.sorted.delete(info.level);
  }

  /** A level-0 file's name is not yet durable, for tests and diagnosis. */
  get namesUnsynced(): boolean {
    return this.level0Unsynced;
  }

  /** Makes the level-0 renames since the last call durable (one directory fsync, see write()). */
  async syncNames(): Promise<void> {
    if (!this.level0Unsynced) return;
    // Cleared first: a rename during the fsync sets it again for the next call.
    this.level0Unsynced = false;
    try {
      await fsyncDir(this.levelDir(0));
    } catch (err) {
      this.level0Unsynced = true;
      throw err;
    }
  }

  /** Records the database checksum at the last captured TXID, written on a clean stop. */
  async writeCleanStop(record: CleanStop): Promise<void> {
    await this.syncNames();
    await fsp.mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, 'clean-stop.json');
    await fsp.writeFile(`${file}.tmp`, `${JSON.stringify({ txid: record.txid, checksum: record.checksum.toString(16) })}\n`);
    await fsp.rename(`${file}.tmp`, file);
    await fsyncDir(this.dir);
  }

  /** Reads and removes the clean-stop record: it vouches for one start only. */
  async takeCleanStop(): Promise<CleanStop | null> {
    const file = path.join(this.dir, 'clean-stop.json');
    try {
      const raw = JSON.parse(await fsp.readFile(file, 'utf8')) as { txid: number; checksum: string };
      await fsp.rm(file, { force: true });
      return { txid: raw.txid, checksum: BigInt(`0x${raw.checksum}`) };
    } catch {
      await fsp.rm(file, { force: true }).catch(() => undefined);
      return null;
    }
  }

  /** Leftovers of a write that a crash interrupted. */
  async removeTemporaryFiles(): Promise<void> {
    await fsp.rm(path.join(this.dir, 'scratch'), { recursive: true, force: true });
    const root = path.join(this.dir, 'ltx');
    const levels = await fsp.readdir(root).catch(() => [] as string[]);
    for (const level of levels) {
      const names = await fsp.readdir(path.join(root, level)).catch(() => [] as string[]);
      for (const n of names) if (n.endsWith('.tmp')) await fsp.rm(path.join(root, level, n), { force: true });
    }
  }
}

export interface CleanStop {
  txid: number;
  checksum: bigint;
}
