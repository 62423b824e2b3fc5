// Tokens that make temporary names unique: eight hex digits, counting up from a random start drawn
// once per process. Unique within a process for 2^32 names; two processes collide only when their
// ranges overlap and both use the same token for the same final name at the same time. No call
// into OpenSSL's generator for every upload, as a fresh random token per name was.
import { randomBytes } from 'node:crypto';

const start = randomBytes(4).readUInt32BE(0);
let next = 0;

/** Eight lower-case hex digits, different on every call in this process (for 2^32 calls). */
export function uniqueToken(): string {
  return ((start + next++) >>> 0).toString(16).padStart(8, '0');
}
