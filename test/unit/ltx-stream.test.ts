// The streaming decoder must decode exactly what the in-memory one does, however the bytes are
// split into chunks, and refuse the same damage without reading a whole file into memory.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LtxFile, LtxStream } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { LtxFormatError, ltxHeader } from '../../src/ltx/format.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/ltx/${name}`, import.meta.url));

async function encoded(pages: number, pageSize = 512): Promise<Buffer> {
  const enc = await LtxEncoder.create(ltxHeader({ pageSize, commit: pages, minTXID: 1, maxTXID: 1, timestamp: 1700000000000 }));
  const parts = [enc.begin()];
  for (let pgno = 1; pgno <= pages; pgno++) {
    const data = Buffer.alloc(pageSize);
    // Some pages compress well, some do not.
    for (let i = 0; i < pageSize; i++) data[i] = pgno % 3 === 0 ? (pgno * 131 + i * i * 7) & 0xff : pgno & 0xff;
    parts.push(...enc.encodePage(pgno, data));
  }
  parts.push(enc.finish());
  return Buffer.concat(parts);
}

/** A deterministic split of `buf` into chunks of 1 to `max` bytes. */
function chunked(buf: Buffer, max: number, seed = 7): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let pos = 0; pos < buf.length; ) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const n = Math.min(1 + (x % max), buf.length - pos);
    out.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

async function* source(chunks: Buffer[], onEnd?: () => void): AsyncGenerator<Buffer> {
  try {
    for (const c of chunks) yield c;
  } finally {
    onEnd?.();
  }
}

async function decode(file: LtxFile | LtxStream): Promise<{ pages: string[]; trailer: unknown }> {
  const pages: string[] = [];
  const it = file.pages();
  for (;;) {
    const r = await it.next();
    if (r.done) return { pages, trailer: r.value };
    pages.push(`${r.value.pgno}:${r.value.data.toString('base64')}`);
  }
}

const inputs: Array<[string, () => Promise<Buffer>]> = [
  ['walship-encoded, 40 pages', () => encoded(40)],
  ['Go-encoded incr-6-7.ltx', async () => fixture('incr-6-7.ltx')],
  ['Go-encoded snapshot-1-4.ltx', async () => fixture('snapshot-1-4.ltx')],
];

describe.each(inputs)('%s', (_name, load) => {
  it('decodes the same pages and trailer as the in-memory decoder, whatever the chunk sizes', async () => {
    const buf = await load();
    const expected = await decode(LtxFile.open(buf));
    expect(expected.pages.length).toBeGreaterThan(0);
    for (const max of [1, 3, 10, 97, 600, buf.length]) {
      const stream = await LtxStream.open(source(chunked(buf, max)));
      expect(stream.header).toEqual(LtxFile.open(buf).header);
      expect(await decode(stream), `chunks of up to ${max} bytes`).toEqual(expected);
    }
  });

  it('throws LtxFormatError for every truncation, as the in-memory decoder does', async () => {
    const buf = await load();
    for (let n = 0; n < buf.length; n += Math.max(1, Math.floor(buf.length / 60))) {
      const err = await LtxStream.open(source(chunked(buf.subarray(0, n), 50)))
        .then((s) => s.verify())
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, `truncated to ${n} bytes`).toBeInstanceOf(LtxFormatError);
    }
  });
});

describe('LtxStream', () => {
  it('refuses a block size no page compresses to before reading on', async () => {
    const buf = Buffer.from(await encoded(4));
    // The first page's size field sits after the 100-byte header and the 6-byte page header.
    buf.writeUInt32BE(0x7fffffff, 106);
    let pulled = 0;
    const chunks = chunked(buf, 16);
    async function* counting(): AsyncGenerator<Buffer> {
      for (const c of chunks) {
        pulled++;
        yield c;
      }
    }
    const stream = await LtxStream.open(counting());
    await expect(stream.verify()).rejects.toThrow(/block size 2147483647 is more than a 512-byte page compresses to/);
    expect(pulled).toBeLessThan(chunks.length);
  });

  it('close() mid-file stops the source, which releases what it opened', async () => {
    const buf = await encoded(40);
    let released = false;
    const stream = await LtxStream.open(source(chunked(buf, 64), () => (released = true)));
    const it = stream.pages();
    await it.next();
    expect(released).toBe(false);
    await stream.close();
    expect(released).toBe(true);
  });

  it('a source that fails surfaces its own error', async () => {
    const buf = await encoded(10);
    async function* failing(): AsyncGenerator<Buffer> {
      yield buf.subarray(0, 300);
      throw new Error('replica sftp://x: read ltx/0/...: connection reset');
    }
    const stream = await LtxStream.open(failing());
    await expect(stream.verify()).rejects.toThrow(/connection reset/);
  });
});
