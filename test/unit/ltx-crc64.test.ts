import { describe, expect, it } from 'vitest';
import { createCrc64 } from '../../src/ltx/crc64.js';

// An independent, bit-at-a-time CRC-64/GO-ISO (Go's hash/crc64 with crc64.ISO):
// reflected polynomial 0xD800000000000000, initial value and final XOR all ones.
function referenceCrc64Iso(data: Uint8Array): bigint {
  const MASK = (1n << 64n) - 1n;
  let crc = MASK;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ 0xd800000000000000n : crc >> 1n;
  }
  return crc ^ MASK;
}

async function crcOf(...chunks: Uint8Array[]): Promise<bigint> {
  const c = await createCrc64();
  for (const ch of chunks) c.update(ch);
  return c.digest();
}

describe('CRC-64/ISO', () => {
  it('gives the catalogued check value 0xb90956c775a41001 for "123456789"', async () => {
    expect(await crcOf(Buffer.from('123456789', 'latin1'))).toBe(0xb90956c775a41001n);
  });

  it('the reference implementation in this test agrees with the check value', () => {
    expect(referenceCrc64Iso(Buffer.from('123456789', 'latin1'))).toBe(0xb90956c775a41001n);
  });

  it('is 0 for no input (Go: crc64.Checksum(nil, ISO) == 0)', async () => {
    expect(await crcOf()).toBe(0n);
  });

  it('matches the reference on varied lengths and byte values', async () => {
    for (const len of [1, 7, 8, 9, 63, 64, 65, 255, 1000]) {
      const data = Buffer.alloc(len);
      for (let i = 0; i < len; i++) data[i] = (i * 151 + len) & 0xff;
      expect(await crcOf(data), `length ${len}`).toBe(referenceCrc64Iso(data));
    }
  });

  it('hashing in chunks equals hashing in one piece', async () => {
    const data = Buffer.alloc(5000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 0xff;
    const whole = await crcOf(data);
    expect(await crcOf(data.subarray(0, 1), data.subarray(1, 4096), data.subarray(4096))).toBe(whole);
    expect(await crcOf(data.subarray(0, 2500), Buffer.alloc(0), data.subarray(2500))).toBe(whole);
  });

  it('hashers created side by side keep separate state', async () => {
    const a = await createCrc64();
    const b = await createCrc64();
    a.update(Buffer.from('1234', 'latin1'));
    b.update(Buffer.from('abc', 'latin1'));
    a.update(Buffer.from('56789', 'latin1'));
    expect(a.digest()).toBe(0xb90956c775a41001n);
    expect(b.digest()).toBe(referenceCrc64Iso(Buffer.from('abc', 'latin1')));
  });

  it('a single flipped bit changes the digest', async () => {
    const data = Buffer.from('123456789', 'latin1');
    data[4]! ^= 0x10;
    expect(await crcOf(data)).not.toBe(0xb90956c775a41001n);
  });
});

describe('CRC-64/ISO hashers used side by side', () => {
  it('interleaved updates, digests and resets give each hasher its own checksum', async () => {
    const data = Array.from({ length: 5 }, (_, i) => Buffer.from(Array.from({ length: 300 + i * 17 }, (_, k) => (k * 7 + i * 13) & 0xff)));
    const hashers = await Promise.all(data.map(() => createCrc64()));
    // Round-robin, a slice at a time, so every update follows another hasher's.
    for (let off = 0; off < 400; off += 50) hashers.forEach((h, i) => h.update(data[i]!.subarray(off, off + 50)));
    expect(hashers[2]!.digest()).toBe(referenceCrc64Iso(data[2]!));
    hashers[2]!.reset();
    hashers[2]!.update(data[0]!);
    hashers.forEach((h, i) => {
      if (i !== 2) h.update(Buffer.from('tail'));
    });
    expect(hashers[2]!.digest()).toBe(referenceCrc64Iso(data[0]!));
    for (const i of [0, 1, 3, 4]) expect(hashers[i]!.digest()).toBe(referenceCrc64Iso(Buffer.concat([data[i]!, Buffer.from('tail')])));
  });
});
