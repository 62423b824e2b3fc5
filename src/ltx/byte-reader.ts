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

  /** Everything left in the stream. */
  async rest(): Promise<Buffer> {
    while (!this.ended) await this.pull();
    return this.take(this.buffered);
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
