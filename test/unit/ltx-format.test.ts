import { describe, expect, it } from 'vitest';
import {
  CHECKSUM_FLAG,
  decodeHeader,
  encodeHeader,
  encodePageHeader,
  encodeTrailer,
  formatTXID,
  HEADER_FLAG_NO_CHECKSUM,
  HEADER_SIZE,
  isSnapshotHeader,
  isValidPageSize,
  lockPgno,
  LtxFormatError,
  PAGE_FLAG_SIZE,
  type LtxHeader,
} from '../../src/ltx/format.js';

const header: LtxHeader = {
  flags: HEADER_FLAG_NO_CHECKSUM,
  pageSize: 4096,
  commit: 0x01020304,
  minTXID: 0x0a0b0c0d0e,
  maxTXID: 0x0a0b0c0d0f,
  timestamp: 1700000000123,
  preApplyChecksum: 0n,
  walOffset: 0x1122334455,
  walSize: 0x66778899,
  walSalt1: 0xdeadbeef,
  walSalt2: 0xcafebabe,
  nodeID: 0xfedcba9876543210n,
};

describe('LTX header encoding', () => {
  it('is exactly 100 bytes with every field big-endian at its offset', () => {
    const b = encodeHeader(header);
    expect(b.length).toBe(HEADER_SIZE);
    expect(b.length).toBe(100);
    expect(b.toString('latin1', 0, 4)).toBe('LTX1');
    expect(b.subarray(4, 8).toString('hex')).toBe('00000002'); // flags
    expect(b.subarray(8, 12).toString('hex')).toBe('00001000'); // page size
    expect(b.subarray(12, 16).toString('hex')).toBe('01020304'); // commit
    expect(b.subarray(16, 24).toString('hex')).toBe('0000000a0b0c0d0e'); // min TXID
    expect(b.subarray(24, 32).toString('hex')).toBe('0000000a0b0c0d0f'); // max TXID
    expect(b.subarray(32, 40).toString('hex')).toBe('0000018bcfe5687b'); // timestamp (ms)
    expect(b.subarray(40, 48).toString('hex')).toBe('0000000000000000'); // pre-apply checksum
    expect(b.subarray(48, 56).toString('hex')).toBe('0000001122334455'); // WAL offset
    expect(b.subarray(56, 64).toString('hex')).toBe('0000000066778899'); // WAL size
    expect(b.subarray(64, 68).toString('hex')).toBe('deadbeef'); // salt 1
    expect(b.subarray(68, 72).toString('hex')).toBe('cafebabe'); // salt 2
    expect(b.subarray(72, 80).toString('hex')).toBe('fedcba9876543210'); // node ID
    expect(b.subarray(80, 100).equals(Buffer.alloc(20))).toBe(true); // reserved
  });

  it('decodes back to the same header', () => {
    expect(decodeHeader(encodeHeader(header))).toEqual(header);
  });

  it('round-trips a non-snapshot header that tracks checksums', () => {
    const h: LtxHeader = { ...header, flags: 0, preApplyChecksum: CHECKSUM_FLAG | 0x1234n };
    const b = encodeHeader(h);
    expect(b.subarray(40, 48).toString('hex')).toBe('8000000000001234');
    expect(decodeHeader(b)).toEqual(h);
  });

  it('rejects a short buffer and a wrong magic', () => {
    const b = encodeHeader(header);
    expect(() => decodeHeader(b.subarray(0, 99))).toThrow(LtxFormatError);
    const bad = Buffer.from(b);
    bad.write('LTX0', 0, 'latin1');
    expect(() => decodeHeader(bad)).toThrow(/bad magic/);
  });

  it('rejects a TXID beyond 2^53-1 rather than rounding it', () => {
    const b = encodeHeader(header);
    b.writeBigUInt64BE(1n << 60n, 24);
    expect(() => decodeHeader(b)).toThrow(/max TXID out of range/);
  });

  it.each<[string, Partial<LtxHeader>, RegExp]>([
    ['unknown flag bits', { flags: 0x4 }, /invalid header flags/],
    ['a page size that is not a power of two', { pageSize: 4095 }, /invalid page size/],
    ['a page size below 512', { pageSize: 256 }, /invalid page size/],
    ['a page size above 64 KiB', { pageSize: 131072 }, /invalid page size/],
    ['min TXID 0', { minTXID: 0 }, /at least 1/],
    ['min TXID above max TXID', { minTXID: 9, maxTXID: 8 }, /out of order/],
    ['a negative WAL offset', { walOffset: -1 }, /negative/],
    ['salts without a WAL offset', { walOffset: 0, walSize: 0 }, /salt without WAL offset/],
    ['a WAL size without a WAL offset', { walOffset: 0, walSalt1: 0, walSalt2: 0 }, /size without WAL offset/],
    ['a pre-apply checksum on a snapshot', { minTXID: 1, preApplyChecksum: CHECKSUM_FLAG | 1n }, /must be zero/],
    ['a pre-apply checksum with the no-checksum flag', { preApplyChecksum: CHECKSUM_FLAG | 1n }, /must be zero/],
    ['a missing pre-apply checksum when checksums are tracked', { flags: 0, preApplyChecksum: 0n }, /required/],
    ['a pre-apply checksum without bit 63', { flags: 0, preApplyChecksum: 5n }, /required/],
  ])('refuses to encode or decode %s', (_name, change, message) => {
    const bad = { ...header, ...change };
    expect(() => encodeHeader(bad)).toThrow(message);
    expect(() => encodeHeader(bad)).toThrow(LtxFormatError);
    // The same bytes written by hand are refused on decode.
    const b = encodeHeader(header);
    b.writeUInt32BE(bad.flags >>> 0, 4);
    b.writeUInt32BE(bad.pageSize, 8);
    b.writeBigUInt64BE(BigInt(bad.minTXID), 16);
    b.writeBigUInt64BE(BigInt(bad.maxTXID), 24);
    b.writeBigUInt64BE(bad.preApplyChecksum, 40);
    b.writeBigInt64BE(BigInt(bad.walOffset), 48);
    b.writeBigInt64BE(BigInt(bad.walSize), 56);
    b.writeUInt32BE(bad.walSalt1, 64);
    b.writeUInt32BE(bad.walSalt2, 68);
    expect(() => decodeHeader(b)).toThrow(LtxFormatError);
  });

  it('accepts every power-of-two page size from 512 to 65536 and nothing else', () => {
    const valid = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
    for (const s of valid) expect(isValidPageSize(s), String(s)).toBe(true);
    for (const s of [0, 1, 256, 511, 513, 1000, 3072, 65535, 131072]) expect(isValidPageSize(s), String(s)).toBe(false);
  });

  it('treats exactly the files starting at TXID 1 as snapshots', () => {
    expect(isSnapshotHeader({ ...header, minTXID: 1 })).toBe(true);
    expect(isSnapshotHeader({ ...header, minTXID: 2 })).toBe(false);
  });
});

describe('LTX lock page', () => {
  it('is the page holding byte 0x40000000', () => {
    expect(lockPgno(4096)).toBe(262145);
    expect(lockPgno(512)).toBe(2097153);
    expect(lockPgno(1024)).toBe(1048577);
    expect(lockPgno(65536)).toBe(16385);
  });
});

describe('LTX page header and trailer', () => {
  it('page header is pgno u32 BE then flags u16 BE; the size flag is 0x1', () => {
    expect(PAGE_FLAG_SIZE).toBe(1);
    expect(encodePageHeader(0x01020304, PAGE_FLAG_SIZE).toString('hex')).toBe('010203040001');
    expect(encodePageHeader(0, 0).toString('hex')).toBe('000000000000');
  });

  it('trailer is post-apply checksum then file checksum, both u64 BE', () => {
    const t = encodeTrailer({ postApplyChecksum: 0x8000000000000001n, fileChecksum: 0x8123456789abcdefn });
    expect(t.toString('hex')).toBe('80000000000000018123456789abcdef');
  });
});

describe('TXIDs', () => {
  it('print as 16 lowercase hex digits', () => {
    expect(formatTXID(255)).toBe('00000000000000ff');
  });
});
