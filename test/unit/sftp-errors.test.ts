// What a refused SFTP write is said to mean: OpenSSH reports ENOSPC, EDQUOT and EROFS all as
// "Failure", so the filesystem's statvfs tells them apart.
import { describe, expect, it } from 'vitest';
import { explainRefusal } from '../../src/replica/sftp-errors.js';
import { SFTP_STATUS } from '../../src/replica/sftp-io.js';

const DIR = '/srv/replica/ltx/0';
const space = (availableBytes: number, over: Partial<{ readOnly: boolean; availableInodes: number }> = {}) => ({
  availableBytes,
  totalBytes: 10 * 1024 ** 3,
  availableInodes: 1000,
  readOnly: false,
  ...over,
});

describe('explainRefusal', () => {
  it('a full disk, a read-only filesystem, no inodes, or something else (a quota)', () => {
    expect(explainRefusal(SFTP_STATUS.FAILURE, 'write', DIR, space(0))).toBe(`the replica's disk is full: 0 B available of 10.0 GiB (${DIR})`);
    expect(explainRefusal(SFTP_STATUS.FAILURE, 'open', DIR, space(5 * 1024 ** 3, { readOnly: true }))).toBe(`the replica's filesystem is mounted read-only (${DIR})`);
    expect(explainRefusal(SFTP_STATUS.FAILURE, 'mkdir', DIR, space(5 * 1024 ** 3, { availableInodes: 0 }))).toMatch(/no free inodes/);
    expect(explainRefusal(SFTP_STATUS.FAILURE, 'write', DIR, space(5 * 1024 ** 3))).toBe(
      `not a full disk (5.0 GiB available in ${DIR}): perhaps a disk quota for the SFTP user, or an I/O error on the server`,
    );
  });

  it('without statvfs, names the likely causes', () => {
    expect(explainRefusal(SFTP_STATUS.FAILURE, 'fsync', DIR, null)).toMatch(/disk is full, a disk quota is exceeded or its filesystem is read-only \(\/srv\/replica\/ltx\/0\)/);
  });

  it('permission denied names the directory; reads and other codes get no hint', () => {
    expect(explainRefusal(SFTP_STATUS.PERMISSION_DENIED, 'open', DIR, null)).toMatch(/^the SFTP user may not write in \/srv\/replica\/ltx\/0/);
    expect(explainRefusal(SFTP_STATUS.FAILURE, 'read', DIR, space(0))).toBeNull();
    expect(explainRefusal(SFTP_STATUS.PERMISSION_DENIED, 'readdir', DIR, null)).toBeNull();
    expect(explainRefusal(SFTP_STATUS.NO_SUCH_FILE, 'open', DIR, space(0))).toBeNull();
    expect(explainRefusal(null, 'write', DIR, space(0))).toBeNull();
  });
});
