// kill -9 of walship in the middle of a big upload over sshd leaves a partial temporary file on the
// replica; the list of files to remove died with the process. The next walship sweeps it (by name
// and age) once it is connected and writing, and the replica restores exactly.
import { execFileSync } from 'node:child_process';
import { promises as fsp, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isTempFileName, LEVELS } from '../../src/replica/layout.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { remoteNames, waitUntil } from '../helpers/sftp-fixtures.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let sshd: Sshd | null = null;
afterEach(async () => {
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

/** Temporary files in every level of the replica, with their sizes, straight from sshd's disk. */
async function tempFiles(remote: string): Promise<Array<{ file: string; size: number }>> {
  const out: Array<{ file: string; size: number }> = [];
  for (const level of LEVELS) {
    for (const name of await remoteNames(remote, level)) {
      if (!isTempFileName(name)) continue;
      const file = path.join(remote, 'ltx', String(level), name);
      const st = await fsp.stat(file).catch(() => null);
      if (st) out.push({ file, size: st.size });
    }
  }
  return out;
}

describe('temporary files after a crash', () => {
  it('kill -9 mid-upload of a big snapshot: after a restart the partial .tmp is swept and the restore is exact', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeFileSync(
      work.config,
      `dbs:
  - path: ${work.db}
    replicas:
      - url: sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}
        key-path: ${sshd.clientKey.privateKeyPath}
        host-key: "${sshd.hostKeyLine}"
        sync-interval: 0s
`,
    );
    await runWriter('node', { db: work.db, from: 1, to: 10, payload: 'small' });
    // 80 MiB that LZ4 cannot shrink, so the first full capture is a long upload.
    execFileSync('python3', [
      '-c',
      'import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor i in range(80): c.execute("INSERT INTO filler (junk) VALUES (randomblob(1048576))")\nc.commit()\nc.close()',
      work.db,
    ]);

    let walship = startWalship(['replicate', '-config', work.config]);
    const caught = await waitUntil(async () => (await tempFiles(remote)).some((t) => t.size > 8 * 1024 * 1024), 60_000, 5);
    expect(caught, `no big upload seen in progress; walship logs:\n${walship.logs()}`).toBe(true);
    expect(await walship.stop('SIGKILL')).toBe(null);
    const left = await tempFiles(remote);
    expect(left.length).toBeGreaterThan(0);
    // Time passes: an hour later nothing can still be writing these. (The sweep's bound is 15
    // minutes; a leftover younger than that is swept by a later write once it is old enough.)
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const t of left) await fsp.utimes(t.file, hourAgo, hourAgo);

    walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 11, to: 20, payload: 'small' });
    const swept = await waitUntil(async () => {
      const now = new Set((await tempFiles(remote)).map((t) => t.file));
      return left.every((t) => !now.has(t.file));
    }, 60_000, 50);
    const remaining = (await tempFiles(remote)).map((t) => t.file);
    expect(swept, `still on the replica: ${remaining.join(', ')}; walship logs:\n${walship.logs()}`).toBe(true);
    expect(remaining.filter((f) => left.some((t) => t.file === f))).toEqual([]);
    expect(await walship.stop()).toBe(0);
    // Log lines are buffered until the process flushes them (at the latest when it stops).
    expect(walship.logs()).toContain('"event":"tmp_swept"');

    expect(await tempFiles(remote)).toEqual([]);
    const out = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(20);
    expect(dump(out)).toBe(dump(work.db));
  });
});
