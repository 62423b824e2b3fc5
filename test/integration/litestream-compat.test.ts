// The replica format is Litestream's: each tool restores the other's replica exactly, on a directory
// and through sshd, and a database can move from one tool to the other and back on one replica.
// Runs the real Litestream binary (scripts/setup-debian.sh builds it into .tools/bin).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { LITESTREAM_VERSION, litestreamBin, replicaSettled, runLitestream, startLitestream } from '../helpers/litestream.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
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

/** A Litestream v0.5 config with one replica; `replicaYaml` holds the replica's keys. */
function litestreamConfig(w: Workdir, replicaYaml: string): string {
  const file = path.join(w.dir, 'litestream.yml');
  writeFileSync(file, `dbs:\n  - path: ${w.db}\n    replica:\n${replicaYaml}`);
  return file;
}

/** Litestream's replicate until its replica has settled, then SIGTERM. */
async function replicateWithLitestream(config: string, replicaDir: string, write: () => Promise<unknown>): Promise<void> {
  const ls = startLitestream(['replicate', '-config', config]);
  try {
    await write();
    await replicaSettled(replicaDir);
  } finally {
    const code = await ls.stop();
    expect(code, `litestream output:\n${ls.logs()}`).toBe(0);
  }
}

async function restoreWithLitestream(args: string[], out: string): Promise<void> {
  const r = await runLitestream(['restore', '-o', out, ...args]);
  expect(r.code, `litestream restore output:\n${r.output}`).toBe(0);
}

async function restoreWithWalship(args: string[], out: string): Promise<void> {
  const r = await runWalship(['restore', '-o', out, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

describe(`Litestream ${LITESTREAM_VERSION} and walship on one replica`, () => {
  it('the binary is there and is the pinned version', async () => {
    litestreamBin();
    const r = await runLitestream(['version']);
    expect(r.output.trim()).toBe(LITESTREAM_VERSION);
  });

  it("Litestream restores walship's directory replica (snapshot, compacted levels, level 0) exactly", async () => {
    work = makeWorkdir('levels:\n  - interval: 1s\n');
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('python', { db: work.db, from: 1, to: 40, payload: 'mixed', autocheckpoint: 100, vacuumAt: 20 });
    // Past one level-1 interval, so the replica holds every level walship writes.
    await new Promise((r) => setTimeout(r, 1_500));
    await runWriter('node', { db: work.db, from: 41, to: 60, payload: 'mixed' });
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'by-litestream.db');
    await restoreWithLitestream([`file://${work.replica}`], out);
    expect(checkRestored(out, 'mixed').k).toBe(60);
    expect(dump(out)).toBe(dump(work.db));
  });

  it("walship restores Litestream's directory replica exactly", async () => {
    work = makeWorkdir();
    const config = litestreamConfig(work, `      url: file://${work.replica}\n      sync-interval: 100ms\n`);
    await replicateWithLitestream(config, work.replica, async () => {
      await runWriter('python', { db: work!.db, from: 1, to: 40, payload: 'mixed', autocheckpoint: 100, vacuumAt: 20 });
      await runWriter('node', { db: work!.db, from: 41, to: 60, payload: 'mixed' });
    });
    const out = path.join(work.dir, 'by-walship.db');
    await restoreWithWalship([`file://${work.replica}`], out);
    expect(checkRestored(out, 'mixed').k).toBe(60);
    expect(dump(out)).toBe(dump(work.db));
  });

  // With the application holding its connection, the WAL stays between hand-overs and each tool
  // continues from a WAL position the other left; without it, each starts from a checkpointed file.
  it.each([
    ['the database closed between hand-overs', false],
    ['the application holding the database open throughout', true],
  ])('a database moves Litestream -> walship -> Litestream -> walship on one replica, each restore exact (%s)', async (_label, holdOpen) => {
    work = makeWorkdir();
    const w = work;
    const config = litestreamConfig(w, `      url: file://${w.replica}\n      sync-interval: 100ms\n`);
    // Created first, so the held connection has a database to keep open.
    await runWriter('node', { db: w.db, from: 1, to: 1, payload: 'small' });
    const app = holdOpen ? new Database(w.db) : null;
    try {
      const check = async (n: number, restore: (out: string) => Promise<void>): Promise<void> => {
        const out = path.join(w.dir, `restored-${n}.db`);
        await restore(out);
        expect(checkRestored(out, 'small').k).toBe(n);
        expect(dump(out)).toBe(dump(w.db));
      };
      const byLitestream = (out: string): Promise<void> => restoreWithLitestream([`file://${w.replica}`], out);
      const byWalship = (out: string): Promise<void> => restoreWithWalship([`file://${w.replica}`], out);
      // Closed: the application wrote and closed before walship started, so walship finds no WAL
      // and its only file is a full capture; the next Litestream must still take over from it.
      const walshipLeg = async (from: number, to: number): Promise<void> => {
        if (!holdOpen) await runWriter('node', { db: w.db, from, to, payload: 'small' });
        const walship = startWalship(['replicate', '-config', w.config]);
        await walship.waitForEvent('started');
        if (holdOpen) await runWriter('node', { db: w.db, from, to, payload: 'small' });
        expect(await walship.stop()).toBe(0);
      };

      await replicateWithLitestream(config, w.replica, () => runWriter('python', { db: w.db, from: 2, to: 20, payload: 'small' }));
      await check(20, byWalship);
      await walshipLeg(21, 40);
      await check(40, byLitestream);
      await replicateWithLitestream(config, w.replica, () => runWriter('python', { db: w.db, from: 41, to: 60, payload: 'small' }));
      await check(60, byWalship);
      await walshipLeg(61, 80);
      await check(80, byLitestream);
    } finally {
      app?.close();
    }
  });

  it('through sshd: each restores the SFTP replica the other wrote', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const w = work;
    const s = sshd;
    const sftpYaml = (remote: string): string =>
      `      url: sftp://${s.user}@127.0.0.1:${s.port}${remote}\n      key-path: ${s.clientKey.privateKeyPath}\n      host-key: "${s.hostKeyLine}"\n      sync-interval: 100ms\n`;

    // walship writes, Litestream restores; both read the same Litestream-style config file.
    const byWalship = path.join(w.dir, 'remote-walship');
    const first = litestreamConfig(w, sftpYaml(byWalship));
    const walship = startWalship(['replicate', '-config', first]);
    await runWriter('python', { db: w.db, from: 1, to: 30, payload: 'mixed', autocheckpoint: 100 });
    expect(await walship.stop()).toBe(0);
    const out1 = path.join(w.dir, 'sftp-by-litestream.db');
    await restoreWithLitestream(['-config', first, w.db], out1);
    expect(checkRestored(out1, 'mixed').k).toBe(30);
    expect(dump(out1)).toBe(dump(w.db));

    // Litestream writes a replica of its own, walship restores it.
    const byLitestream = path.join(w.dir, 'remote-litestream');
    const second = litestreamConfig(w, sftpYaml(byLitestream));
    await replicateWithLitestream(second, byLitestream, () => runWriter('node', { db: w.db, from: 31, to: 50, payload: 'mixed' }));
    const out2 = path.join(w.dir, 'sftp-by-walship.db');
    await restoreWithWalship(['-config', second, w.db], out2);
    expect(checkRestored(out2, 'mixed').k).toBe(50);
    expect(dump(out2)).toBe(dump(w.db));
  });
});
