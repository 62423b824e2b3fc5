// What a refused SFTP write likely means, in words a person can act on. Pure.
//
// OpenSSH's sftp-server maps errno to the few SFTP v3 status codes: EACCES and EPERM become
// "Permission denied", ENOENT "No such file", and everything else (ENOSPC, EDQUOT, EROFS, EIO, ...)
// the bare "Failure". So a full disk, an exceeded quota and a read-only filesystem all arrive as the
// same word; statvfs@openssh.com on the directory, asked right after the failure, tells them apart
// where the server offers it.
import { SFTP_STATUS, type RemoteFsSpace } from './sftp-io.js';

/** Below this many available bytes, a failed write is taken for a full disk. */
const NEARLY_FULL_BYTES = 1024 * 1024;

/** Requests that write or create: a generic failure of one of them is worth explaining. */
const WRITING = new Set(['open', 'write', 'close', 'fsync', 'setstat', 'mkdir', 'rename', 'posix-rename']);

/** Whether a failure is one explainRefusal() has words for (and statvfs is worth asking). */
export function isRefusal(code: number | null, request: string): boolean {
  return WRITING.has(request) && (code === SFTP_STATUS.PERMISSION_DENIED || code === SFTP_STATUS.FAILURE);
}

/**
 * A hint for a refused request on `dir`, given the filesystem's space when known; null when there
 * is nothing to add.
 */
export function explainRefusal(code: number | null, request: string, dir: string, space: RemoteFsSpace | null): string | null {
  if (!isRefusal(code, request)) return null;
  if (code === SFTP_STATUS.PERMISSION_DENIED) {
    return `the SFTP user may not write in ${dir}: check that directory's owner and mode, and the server's chroot`;
  }
  if (!space) {
    return `the server gave no reason; for a write this usually means the replica's disk is full, a disk quota is exceeded or its filesystem is read-only (${dir})`;
  }
  if (space.readOnly) return `the replica's filesystem is mounted read-only (${dir})`;
  if (space.availableBytes < NEARLY_FULL_BYTES) {
    return `the replica's disk is full: ${formatBytes(space.availableBytes)} available of ${formatBytes(space.totalBytes)} (${dir})`;
  }
  if (space.availableInodes === 0) return `the replica's filesystem has no free inodes left (${dir})`;
  return `not a full disk (${formatBytes(space.availableBytes)} available in ${dir}): perhaps a disk quota for the SFTP user, or an I/O error on the server`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
