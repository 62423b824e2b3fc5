// CRC-64/ISO, the checksum LTX files carry in their trailer (Go's crc64.ISO table).
import { createCRC64, type IHasher } from 'hash-wasm';

const ISO_POLYNOMIAL = 'D800000000000000';

export interface Crc64 {
  update(data: Uint8Array): void;
  digest(): bigint;
  /** Starts over, so one hasher can checksum many pages. */
  reset(): void;
}

/** Each call returns an independent hasher, so concurrent encoders never share state. */
export async function createCrc64(): Promise<Crc64> {
  const hasher: IHasher = await createCRC64(ISO_POLYNOMIAL);
  hasher.init();
  return {
    update(data) {
      hasher.update(data);
    },
    digest() {
      return Buffer.from(hasher.digest('binary')).readBigUInt64BE(0);
    },
    reset() {
      hasher.init();
    },
  };
}
