// The rolling database checksum LTX defines: the XOR of CRC-64/ISO(page number || page) over every
// page but the lock page, with the high bit set. Order-independent, so it can be built from any
// page source: a live database, a restored file. Pure.
import { createCrc64, type Crc64 } from './crc64.js';
import { CHECKSUM_FLAG, lockPgno } from './format.js';

export class DatabaseChecksum {
  private acc = 0n;
  private readonly pgnoBytes = Buffer.alloc(4);

  private constructor(
    private readonly crc: Crc64,
    private readonly lock: number,
  ) {}

  static async create(pageSize: number): Promise<DatabaseChecksum> {
    return new DatabaseChecksum(await createCrc64(), lockPgno(pageSize));
  }

  add(pgno: number, page: Uint8Array): void {
    if (pgno === this.lock) return;
    this.crc.reset();
    this.pgnoBytes.writeUInt32BE(pgno, 0);
    this.crc.update(this.pgnoBytes);
    this.crc.update(page);
    this.acc ^= this.crc.digest();
  }

  get value(): bigint {
    return CHECKSUM_FLAG | this.acc;
  }
}
