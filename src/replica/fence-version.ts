// The version of a fence record on a backend that has no ETag (a directory, SFTP): a digest of its
// bytes, so a conditional replace compares what was read with what is there now.
import { createHash } from 'node:crypto';

export function fenceVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
