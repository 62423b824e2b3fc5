// CRC-64/ISO, the checksum LTX files carry in their trailer (Go's crc64.ISO table).
//
// hash-wasm gives each hasher its own WebAssembly instance, about 38 KB of resident memory each:
// a compaction that decodes thousands of files side by side would hold thousands of them. So every
// Crc64 shares one instance and keeps only its own state, swapped in (load/save, a few bytes) when
// another Crc64 used the instance last. A single stream, the common case, never swaps.
import { createRequire } from 'node:module';
import type { IHasher } from 'hash-wasm';

// hash-wasm's index bundles every algorithm it has (about 4 MB of resident memory once parsed); its
// CRC-64 build alone is a few hundred KB.
const { createCRC64 } = createRequire(import.meta.url)('hash-wasm/dist/crc64.umd.min.js') as { createCRC64: (polynomial: string) => Promise<IHasher> };

const ISO_POLYNOMIAL = 'D800000000000000';

export interface Crc64 {
  update(data: Uint8Array): void;
  digest(): bigint;
  /** Starts over, so one hasher can checksum many pages. */
  reset(): void;
}

let shared: Promise<IHasher> | null = null;
/** The Crc64 whose state the shared instance holds now. */
let owner: SharedCrc64 | null = null;

class SharedCrc64 implements Crc64 {
  /** Saved state while another Crc64 holds the instance; null means a fresh start. */
  private state: Uint8Array | null = null;

  constructor(private readonly hasher: IHasher) {}

  update(data: Uint8Array): void {
    this.acquire();
    this.hasher.update(data);
  }

  digest(): bigint {
    this.acquire();
    const value = Buffer.from(this.hasher.digest('binary')).readBigUInt64BE(0);
    // A digest finalizes the instance: whoever uses it next starts from its own state.
    owner = null;
    this.state = null;
    return value;
  }

  reset(): void {
    if (owner === this) owner = null;
    this.state = null;
  }

  private acquire(): void {
    if (owner === this) return;
    if (owner) owner.state = this.hasher.save();
    if (this.state) this.hasher.load(this.state);
    else this.hasher.init();
    owner = this;
  }
}

/** Each call returns an independent hasher, so concurrent encoders and decoders never share state. */
export async function createCrc64(): Promise<Crc64> {
  shared ??= createCRC64(ISO_POLYNOMIAL);
  return new SharedCrc64(await shared);
}
