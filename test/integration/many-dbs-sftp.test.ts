// Many databases on one SFTP server (issue 15): 200 databases, each replicated to its own path on
// one OpenSSH sshd, share one SSH connection (sftp-pool.ts); a sample restored from the replica is
// exactly its source, including writes made while walship ran. Before the pool, 200 replicas meant
// 200 connections (sshd's MaxStartups refuses most of them while they authenticate).
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, type WalshipProcess } from '../helpers/processes.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

const N = 200;
/** Databases written again while walship runs, and restored with the rest of the sample. */
const LIVE = [0, 57, 123, 199];
const SAMPLE = [...LIVE, 1, 42, 100, 150, 198];

let work: Workdir | null = null;
let sshd: Sshd | null = null;
let running: WalshipProcess | null = null;
afterEach(async () => {
  // A failed assertion leaves walship running: end it before its files go.
  await running?.stop('SIGKILL').catch(() => undefined);
  running = null;
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The replica holds a file of this database (retention may already have removed the level-0 file its snapshot covers). */
function onReplica(root: string): boolean {
  return [0, 1, 9].some((level) => {
    try {
      return readdirSync(path.join(root, 'ltx', String(level))).some((n) => n.endsWith('.ltx'));
    } catch {
      return false;
    }
  });
}

/** Writes transactions from..to into each database, `parallel` writer processes at a time. */
async function writeAll(dbs: string[], from: (i: number) => number, to: (i: number) => number, parallel = 6): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < dbs.length) {
      const i = next++;
      await runWriter('python', { db: dbs[i]!, from: from(i), to: to(i), payload: 'mixed' });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

describe('many databases on one sshd', () => {
  it(`${N} databases replicate over exactly one SSH connection and a sample restores exactly`, async () => {
    sshd = await Sshd.start({ maxLogLines: 50_000 });
    work = makeWorkdir();
    const w = work;
    const s = sshd;
    const dbs = Array.from({ length: N }, (_, i) => path.join(w.dir, `db${String(i).padStart(3, '0')}.db`));
    const remoteOf = (i: number): string => path.join(w.dir, 'remote', `db${String(i).padStart(3, '0')}`);
    const first = (i: number): number => 2 + (i % 5);
    await writeAll(dbs, () => 1, first);
    const lines = ['dbs:'];
    dbs.forEach((db, i) => {
      lines.push(
        `  - path: ${db}`,
        '    replicas:',
        `      - url: sftp://${s.user}@127.0.0.1:${s.port}${remoteOf(i)}`,
        `        key-path: ${s.clientKey.privateKeyPath}`,
        `        host-key: "${s.hostKeyLine}"`,
      );
    });
    writeFileSync(w.config, `${lines.join('\n')}\n`);

    const logFrom = s.logs.split('\n').length;
    const walship = startWalship(['replicate', '-config', w.config], { LOG_LEVEL: 'info' });
    running = walship;
    await walship.waitForEvent('started', 180_000);
    // Poll for a condition (bounded), then assert once.
    for (let t = 0; t < 600 && !dbs.every((_, i) => onReplica(remoteOf(i))); t++) await sleep(250);
    const missing = dbs.filter((_, i) => !onReplica(remoteOf(i)));
    expect(missing, `databases with nothing on their replica:\n${walship.logs().split('\n').slice(-40).join('\n')}`).toEqual([]);

    // Writes while walship runs, to a few of them.
    await writeAll(
      LIVE.map((i) => dbs[i]!),
      (k) => first(LIVE[k]!) + 1,
      (k) => first(LIVE[k]!) + 20,
      4,
    );
    expect(await walship.stop('SIGTERM', 180_000)).toBe(0);
    running = null;

    const accepted = s.logs
      .split('\n')
      .slice(logFrom)
      .filter((l) => l.includes('Accepted publickey'));
    const connects = walship.logs().split('\n').filter((l) => l.includes('"event":"sftp_connected"'));
    expect(accepted.length, `sshd accepted:\n${accepted.join('\n')}`).toBe(1);
    expect(connects.length).toBe(1);

    for (const i of SAMPLE) {
      const out = path.join(w.dir, `restored-${i}.db`);
      const r = await runWalship(['restore', '-config', w.config, '-o', out, dbs[i]!]);
      expect(r.stderr, `restore of ${dbs[i]}`).toBe('');
      expect(checkRestored(out, 'mixed').k, `restore of ${dbs[i]}`).toBe(LIVE.includes(i) ? first(i) + 20 : first(i));
      expect(dump(out), `restore of ${dbs[i]}`).toBe(dump(dbs[i]!));
    }
  }, 600_000);
});
