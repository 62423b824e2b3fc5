// Pages of one LTX file, decoded and checked before any of them reaches the follower's database:
// the file's checksum is known only after its last page, and a follower must never apply half a
// file. The pages wait in a local file (memory stays bounded whatever the file's size); their
// numbers stay in memory, four bytes' worth each.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

const FLUSH_PAGES = 256;

export class PageSpool {
  readonly pgnos: number[] = [];
  private buffered: Buffer[] = [];
  private written = 0;

  private constructor(
    readonly path: string,
    readonly pageSize: number,
    private readonly fh: FileHandle,
  ) {}

  static async create(path: string, pageSize: number): Promise<PageSpool> {
    return new PageSpool(path, pageSize, await fsp.open(path, 'w+'));
  }

  async add(pgno: number, data: Buffer): Promise<void> {
    this.pgnos.push(pgno);
    this.buffered.push(data);
    if (this.buffered.length >= FLUSH_PAGES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffered.length === 0) return;
    await this.fh.writev(this.buffered, this.written * this.pageSize);
    this.written += this.buffered.length;
    this.buffered = [];
  }

  /** Pages `from` to `from + count - 1` (by position in the file), in one read. */
  async read(from: number, count: number): Promise<Buffer> {
    await this.flush();
    const buf = Buffer.alloc(count * this.pageSize);
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, from * this.pageSize);
    if (bytesRead !== buf.length) throw new Error(`page spool ${this.path}: short read`);
    return buf;
  }

  async dispose(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fsp.rm(this.path, { force: true });
  }
}
