// A replica in a local directory (file:///path or a plain path), laid out as Litestream lays it out:
// <root>/ltx/<level>/<min>-<max>.ltx, each file's mtime set to its header timestamp.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fsyncDir } from '../util/fs.js';
import { ReplicaConflictError, ReplicaError, type LtxFileInfo, type ReplicaClient } from './client.js';
import { describeFile, levelDir, ltxFilePath, parseLtxFileName, tempFileName, type LtxFileId } from './layout.js';

const STREAM_CHUNK = 1024 * 1024;

export class FileReplicaClient implements ReplicaClient {
  readonly type = 'file';

  constructor(readonly root: string) {}

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
      const st = await fsp.stat(path.join(dir, name)).catch(() => null);
      if (st) out.push({ level, ...r, size: st.size, createdAt: st.mtime });
    }
    return out.sort((a, b) => a.minTXID - b.minTXID || a.maxTXID - b.maxTXID);
  }

  async writeLtxFile(info: LtxFileInfo, localPath: string, opts: { exclusive?: boolean } = {}): Promise<void> {
    const final = this.filePath(info);
    const dir = path.dirname(final);
    const tmp = tempFileName(final, randomBytes(4).toString('hex'));
    try {
      await fsp.mkdir(dir, { recursive: true });
      await fsp.copyFile(localPath, tmp);
      const fh = await fsp.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.utimes(tmp, info.createdAt, info.createdAt);
      if (opts.exclusive) await this.placeExclusive(info, tmp, final, localPath);
      else await fsp.rename(tmp, final);
      await fsyncDir(dir);
    } catch (err) {
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      if (err instanceof ReplicaConflictError) throw err;
      throw this.fail(`write ${describeFile(info)}`, err);
    }
  }

  /** link(2) refuses an existing target, unlike rename(2). */
  private async placeExclusive(info: LtxFileInfo, tmp: string, final: string, localPath: string): Promise<void> {
    try {
      await fsp.link(tmp, final);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [theirs, ours] = await Promise.all([fsp.readFile(final), fsp.readFile(localPath)]);
      if (!theirs.equals(ours)) {
        throw new ReplicaConflictError(this.location, `${describeFile(info)} already exists with different contents: another replicator is writing to this replica`);
      }
    }
    await fsp.rm(tmp, { force: true });
  }

  async readLtxFile(info: LtxFileId): Promise<Buffer> {
    try {
      return await fsp.readFile(this.filePath(info));
    } catch (err) {
      throw this.fail(`read ${describeFile(info)}`, err);
    }
  }

  async *streamLtxFile(info: LtxFileId): AsyncGenerator<Buffer> {
    const what = `read ${describeFile(info)}`;
    let fh;
    try {
      fh = await fsp.open(this.filePath(info), 'r');
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
    for (const info of infos) {
      try {
        await fsp.rm(this.filePath(info), { force: true });
      } catch (err) {
        throw this.fail(`delete ${describeFile(info)}`, err);
      }
    }
  }

  async close(_graceMs?: number): Promise<void> {}

  retryNow(): void {}

  private fail(what: string, err: unknown): ReplicaError {
    const e = err as NodeJS.ErrnoException;
    return new ReplicaError(this.location, `${what}: ${e.message}`, { cause: err });
  }
}
