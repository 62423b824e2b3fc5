// Sequential reads over a stream of chunks, for decoders that must not hold a whole file. Bytes are
// handed out in the order they arrive; a read that spans chunks is copied into one buffer. Pure: the
// chunks come from whatever iterable the caller passes.
import { LtxFormatError } from './format.js';

export class ByteReader {
  private readonly chunks: Buffer[] = [];
  /** Offset into chunks[0] of the next unread byte. */
  private head = 0;
  private buffered = 0;
  private ended = false;
  private readonly source: AsyncIterator<Buffer>;

  /** `position` is the file offset of the first byte the source yields. */
  constructor(
    source: AsyncIterable<Buffer>,
    public position = 0,
  ) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Reads exactly n bytes; a stream that ends first is a truncated file. */
  async read(n: number, what: string): Promise<Buffer> {
    while (this.buffered < n && !this.ended) await this.pull();
    if (this.buffered < n) throw new LtxFormatError(`truncated file: ${what} runs past the end`);
    return this.take(n);
  }

  /**
   * The next n bytes if they are already buffered, else null (then read() them). A decoder takes
   * most of its reads this way: an await per read, three per page, was a good share of a restore.
   */
  readNow(n: number): Buffer | null {
    return this.buffered >= n ? this.take(n) : null;
  }

  /**
   * Reads one unsigned LEB128 varint (at most 10 bytes) and returns its value and its bytes. Never
   * buffers more than the chunk that holds its last byte.
   */
  async readUvarint(what: string): Promise<{ value: number; bytes: Buffer }> {
    while (this.buffered < 10 && !this.ended) await this.pull();
    return this.decodeUvarint(what);
  }

  /** As readUvarint(), when ten bytes (or the rest of the stream) are already buffered; else null. */
  readUvarintNow(what: string): { value: number; bytes: Buffer } | null {
    return this.buffered >= 10 || this.ended ? this.decodeUvarint(what) : null;
  }

  private decodeUvarint(what: string): { value: number; bytes: Buffer } {
    const avail = this.peek(Math.min(this.buffered, 10));
    let end = -1;
    for (let i = 0; i < avail.length; i++) {
      if ((avail[i]! & 0x80) === 0) {
        end = i + 1;
        break;
      }
    }
    if (end < 0) {
      if (avail.length < 10) throw new LtxFormatError(`truncated file: ${what} runs past the end`);
      throw new LtxFormatError(`${what}: varint longer than 10 bytes`);
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < end; i++) {
      value += (avail[i]! & 0x7f) * scale;
      scale *= 0x80;
    }
    if (!Number.isSafeInteger(value)) throw new LtxFormatError(`${what}: varint out of range`);
    return { value, bytes: this.take(end) };
  }

  /** True once the source has nothing more; reads at most one more chunk to find out. */
  async atEnd(): Promise<boolean> {
    while (this.buffered === 0 && !this.ended) await this.pull();
    return this.buffered === 0;
  }

  /** Stops the source early (its finally blocks run, closing what it opened). */
  async cancel(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.source.return?.();
  }

  private async pull(): Promise<void> {
    const r = await this.source.next();
    if (r.done) {
      this.ended = true;
      return;
    }
    if (r.value.length === 0) return;
    this.chunks.push(r.value);
    this.buffered += r.value.length;
  }

  /** The next n buffered bytes (n <= buffered), without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (!first || n === 0) return Buffer.alloc(0);
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let head = this.head;
    for (const c of this.chunks) {
      const k = Math.min(c.length - head, n - filled);
      c.copy(out, filled, head, head + k);
      filled += k;
      head = 0;
      if (filled === n) break;
    }
    return out;
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    this.position += n;
    const first = this.chunks[0];
    if (n === 0 || !first) return Buffer.alloc(0);
    // Within the first chunk: no copy.
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length - this.head, n - filled);
      c.copy(out, filled, this.head, this.head + k);
      filled += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }
}
