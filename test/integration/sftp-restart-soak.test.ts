// A bounded soak, end to end, for the stall once seen after an sshd restart (an upload on the new
// connection that got no answer, which a 90 s shutdown timeout used to tolerate): the real
// `walship replicate` process over OpenSSH's sshd, with a writer in its own process, and 100
// kill -9 and restarts of sshd (with every session) while it ships. walship runs with its own
// defaults for keepalives (10 s) and the request watchdog (60 s), so a stall shows as a backlog that
// does not drain in time, not as a watchdog line.
//
// Ten segments of ten restarts. In each: the writer commits while sshd is restarted nine times,
// each restart followed by a wait until everything staged before it is on the replica (a stalled
// connection holds that past its bound); the writer then stops; the tenth restart comes right
// before a SIGTERM, so the stop must reconnect and ship the whole backlog on a brand-new
// connection: it must exit 0 (its "stopped" line says shipped) within shutdown-sync-timeout, and a
// restore of the replica must then equal the database exactly. walship is started again for the
// next segment. At the end the whole history restores exact against the oracle, and no walship run
// logged a stall or a cut close.
//
// The writer commits about 5-10 small transactions a second. At sync-interval 0s each capture is
// its own upload (six SFTP requests one after another), and with reconnect backoff after every
// restart a writer at 40 tx/s outran the shipper on this shared 2-core machine: the backlog then
// grows between restarts, which is throughput, not a stall, and would fail the drain bound here.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, startWalship, startWriter, type WalshipProcess } from '../helpers/processes.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';
import { descendants } from '../kit/procs.mjs';

const SEGMENTS = 10;
const RESTARTS_PER_SEGMENT = 10;
/** What the config promises for a stop; the test allows the process this plus its exit. */
const SHUTDOWN_SYNC_TIMEOUT_S = 10;
/** The connection close after the drain (2 s grace) and the process exit. */
const EXIT_MARGIN_MS = 5_000;
/** What was staged before a restart must be on the replica within this: well under the 60 s request watchdog. */
const PROGRESS_TIMEOUT_MS = 15_000;
/** The whole soak: about 3 minutes here (2 cores, shared); the bound leaves room for a slower machine. */
const SOAK_TIMEOUT_MS = 600_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let sshd: Sshd;
let work: Workdir;

beforeAll(async () => {
  sshd = await Sshd.start({ sftpLog: null });
  work = makeWorkdir();
});

afterAll(async () => {
  await sshd?.cleanup();
  work?.cleanup();
});

/** The highest TXID any LTX file on the replica reaches (its name is MIN-MAX.ltx in hex). */
function replicaMaxTxid(remote: string): number {
  let max = 0;
  for (const level of [0, 1, 2, 3, 9]) {
    for (const f of ltxFiles(remote, level)) {
      const hex = path.basename(f, '.ltx').split('-')[1];
      if (hex) max = Math.max(max, parseInt(hex, 16));
    }
  }
  return max;
}

/** What sshd's processes and the connection's sockets are doing: printed when the soak gets stuck. */
function serverState(s: Sshd): string {
  const read = (f: string): string => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return '?';
    }
  };
  const pids = s.pid === null ? [] : [s.pid, ...descendants(s.pid)];
  const procs = pids.map((p) => `${p} ${read(`/proc/${p}/cmdline`).split('\0').join(' ')} state=${/State:\s*(\S+)/.exec(read(`/proc/${p}/status`))?.[1]} wchan=${read(`/proc/${p}/wchan`)}`);
  let sockets = '';
  try {
    sockets = execFileSync('ss', ['-tnpi', `( sport = :${s.port} or dport = :${s.port} )`], { encoding: 'utf8' });
  } catch (err) {
    sockets = String(err);
  }
  return `sshd processes:\n${procs.join('\n')}\nsockets:\n${sockets}`;
}

async function waitUntil(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

describe('sshd kill -9 and restart, 100 times, under load, with the real walship process', () => {
  test(`${SEGMENTS * RESTARTS_PER_SEGMENT} restarts: the backlog drains after each, every SIGTERM ships everything within shutdown-sync-timeout, restore exact`, async () => {
    const remote = path.join(work.dir, 'remote');
    const staging = path.join(work.dir, '.app.db-walship');
    writeFileSync(
      work.config,
      `shutdown-sync-timeout: ${SHUTDOWN_SYNC_TIMEOUT_S}s
dbs:
  - path: ${work.db}
    replicas:
      - url: ${sshd.sftpUrl(remote)}
        name: offsite
        sync-interval: 0s
        key-path: ${sshd.clientKey.privateKeyPath}
        host-key: "${sshd.hostKeyLine}"
`,
    );
    const stops = path.join(work.dir, 'stops');
    mkdirSync(stops);
    const walshipLogs: string[] = [];
    const stuck: string[] = [];
    const started = Date.now();
    let walship: WalshipProcess = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    let next = 1;
    let restarts = 0;
    let underLoad = 0;

    for (let seg = 0; seg < SEGMENTS && stuck.length === 0; seg++) {
      const stopFile = path.join(stops, `segment-${seg}`);
      // Bounded by `to` as well as by the stop file.
      const writer = startWriter('node', { db: work.db, from: next, to: next + 50_000, payload: 'small', autocheckpoint: 200, delayMs: 100, stopFile });
      // Shipping is under way before the first kill.
      await waitUntil(() => replicaMaxTxid(remote) > 0 && writer.commits.length > 5, PROGRESS_TIMEOUT_MS);
      for (let i = 0; i < RESTARTS_PER_SEGMENT - 1; i++) {
        // Let uploads be in flight (at sync-interval 0s a commit is captured and shipped at once).
        await sleep(50 + ((seg * 7 + i * 13) % 150));
        // Everything staged when sshd dies must reach the replica on the connections after it.
        const target = replicaMaxTxid(staging);
        await sshd.restart();
        restarts++;
        if (writer.child.exitCode === null) underLoad++;
        // A stalled connection would hold the backlog here.
        if (!(await waitUntil(() => replicaMaxTxid(remote) >= target, PROGRESS_TIMEOUT_MS))) {
          stuck.push(`restart ${restarts}: the replica did not reach TXID ${target} (staged before the restart) within ${PROGRESS_TIMEOUT_MS} ms; it is at ${replicaMaxTxid(remote)}`);
          stuck.push(serverState(sshd));
          break;
        }
      }
      writeFileSync(stopFile, '');
      const commits = await writer.done(30_000);
      if (commits.length > 0) next = commits.at(-1)!.n + 1;
      if (stuck.length > 0) break;

      // The tenth restart, then at once SIGTERM: the stop ships the backlog on a new connection.
      await sshd.restart();
      restarts++;
      const code = await walship.stop('SIGTERM', SHUTDOWN_SYNC_TIMEOUT_S * 1000 + EXIT_MARGIN_MS);
      walshipLogs.push(walship.logs());
      expect(code, `segment ${seg + 1}: walship logs:\n${walship.logs().split('\n').slice(-40).join('\n')}\nsshd:\n${sshd.logs.split('\n').slice(-30).join('\n')}`).toBe(0);
      expect(walship.logs()).toMatch(/"event":"stopped"[^\n]*"shipped":true/);
      const out = path.join(work.dir, `restored-${seg}.db`);
      const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db]);
      expect(r.stderr, `segment ${seg + 1}: restore`).toBe('');
      expect(checkRestored(out, 'small').k).toBe(next - 1);
      expect(dump(out), `segment ${seg + 1}: restored database differs from the source`).toBe(dump(work.db));
      if (seg < SEGMENTS - 1) {
        walship = startWalship(['replicate', '-config', work.config]);
        await walship.waitForEvent('started');
      }
    }
    if (stuck.length > 0) {
      // A stop reports what is still waiting for an answer (its sftp_close_cut line).
      await walship.stop('SIGTERM', SHUTDOWN_SYNC_TIMEOUT_S * 1000 + EXIT_MARGIN_MS).catch((err: Error) => stuck.push(err.message));
      walshipLogs.push(walship.logs());
    }
    console.info(`soak: ${restarts} sshd restarts (${underLoad} while the writer committed), ${next - 1} transactions, in ${Math.round((Date.now() - started) / 1000)} s`);

    const bad = walshipLogs.flatMap((l) => l.split('\n')).filter((l) => /"event":"(sftp_stalled|sftp_close_cut)"/.test(l));
    expect(stuck, `${stuck.join('\n')}\nwalship:\n${walshipLogs.at(-1)?.split('\n').slice(-30).join('\n')}\nsshd:\n${sshd.logs.split('\n').slice(-40).join('\n')}`).toEqual([]);
    expect(bad).toEqual([]);
    expect(restarts).toBe(SEGMENTS * RESTARTS_PER_SEGMENT);

    // The whole history, with walship stopped cleanly: exact, and nothing temporary left behind.
    const out = path.join(work.dir, 'restored-final.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(next - 1);
    expect(dump(out)).toBe(dump(work.db));
    const tmpLeft = existsSync(path.join(remote, 'ltx', '0')) ? readdirSync(path.join(remote, 'ltx', '0')).filter((n) => !n.endsWith('.ltx')) : [];
    expect(tmpLeft).toEqual([]);
  }, SOAK_TIMEOUT_MS);
});
