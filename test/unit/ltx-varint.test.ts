import { describe, expect, it } from 'vitest';
import { appendUvarint, readUvarint, writeUvarint } from '../../src/ltx/varint.js';

function enc(v: number): number[] {
  const out: number[] = [];
  appendUvarint(out, v);
  return out;
}

describe('uvarint (Go encoding/binary.AppendUvarint)', () => {
  it.each([
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [300, [0xac, 0x02]],
    [16383, [0xff, 0x7f]],
    [16384, [0x80, 0x80, 0x01]],
    [262145, [0x81, 0x80, 0x10]],
    [2 ** 32, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [Number.MAX_SAFE_INTEGER, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ])('encodes %d as the bytes Go writes', (value, bytes) => {
    expect(enc(value)).toEqual(bytes);
    expect(readUvarint(Buffer.from(bytes), 0)).toEqual({ value, next: bytes.length });
  });

  it('appends after existing bytes and reads from an offset', () => {
    const out = [0xee];
    appendUvarint(out, 300);
    appendUvarint(out, 5);
    expect(out).toEqual([0xee, 0xac, 0x02, 0x05]);
    const buf = Buffer.from(out);
    const a = readUvarint(buf, 1);
    expect(a).toEqual({ value: 300, next: 3 });
    expect(readUvarint(buf, a.next)).toEqual({ value: 5, next: 4 });
  });

  it('throws on a varint cut off by the end of the buffer', () => {
    expect(() => readUvarint(Buffer.from([0x80, 0x80]), 0)).toThrow(/truncated/);
    expect(() => readUvarint(Buffer.alloc(0), 0)).toThrow(/truncated/);
  });

  it('throws on more than 10 continuation bytes', () => {
    expect(() => readUvarint(Buffer.alloc(12, 0x80), 0)).toThrow();
  });

  it('throws when the value exceeds 2^53-1', () => {
    // 2^63 as Go encodes it.
    const b = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(() => readUvarint(b, 0)).toThrow(/out of range/);
  });
});

describe('writeUvarint', () => {
  it('writes the same bytes as appendUvarint, back to back, and returns the offset past them', () => {
    const values = [0, 1, 127, 128, 255, 300, 16383, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    const expected: number[] = [];
    for (const v of values) appendUvarint(expected, v);
    const buf = Buffer.alloc(10 * values.length);
    let at = 0;
    for (const v of values) at = writeUvarint(buf, at, v);
    expect(at).toBe(expected.length);
    expect([...buf.subarray(0, at)]).toEqual(expected);
  });
});
