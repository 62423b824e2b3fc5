// Promotion, fencing and takeover with real processes: a primary (walship replicate) beside a
// separate writer process, a follower (restore -f) of the same replica over SFTP (real sshd) or a
// directory. The primary is killed without a clean stop; the follower's database becomes the primary
// and continues the replica's TXID chain; the old primary, restarted, never adds a file to it.
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ltxFiles } from '../helpers/files.js';
import { replicaSettled, runLitestream } from '../helpers/litestream.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { freePort } from '../helpers/ports.js';
import { repoRoot, runWalship, startWalship, startWriter, runWriter, type WalshipProcess } from '../helpers/processes.js';
import { Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let sshd: Sshd | null = null;
const procs: WalshipProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop('SIGKILL').catch(() => undefined);
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function walship(args: string[]): WalshipProcess {
  const p = startWalship(args);
  procs.push(p);
  return p;
}

/** Every name under the replica root with its size and mtime: the replica's whole listing. */
function listing(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${path.relative(root, p)} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk(root);
  return out;
}

function replicaMaxTxid(root: string): number {
  let max = 0;
  for (const level of [0, 1, 2, 3, 9]) for (const f of ltxFiles(root, level)) max = Math.max(max, Number.parseInt(path.basename(f).slice(17, 33), 16));
  return max;
}

async function followerTxid(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/status`).catch(() => null);
  if (!res?.ok) return -1;
  return ((await res.json()) as Array<{ txid: number }>)[0]?.txid ?? -1;
}

/** Polls (bounded) until the follower on `port` holds everything the replica has. */
async function waitCaughtUp(port: number, root: string, timeoutMs = 60_000): Promise<number> {
  let seen = -1;
  for (let i = 0; i < timeoutMs / 100; i++) {
    seen = await followerTxid(port);
    if (seen > 0 && seen === replicaMaxTxid(root)) break;
    await sleep(100);
  }
  return seen;
}

function sftpConfig(dbPath: string, s: Sshd, remote: string, extra = ''): string {
  return `${extra}dbs:
  - path: ${dbPath}
    replicas:
      - url: sftp://${s.user}@127.0.0.1:${s.port}${remote}
        name: offsite
        sync-interval: 0s
        key-path: ${s.clientKey.privateKeyPath}
        host-key: "${s.hostKeyLine}"
`;
}

function events(p: WalshipProcess, event: string): Array<Record<string, unknown>> {
  return p
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.event === event);
}

describe('promotion and fencing (SFTP, real sshd)', () => {
  it('kill -9 the primary mid-stream, promote the follower, write more: restores hold both histories exactly; the old primary restarted refuses and adds nothing', async () => {
    work = makeWorkdir();
    const w = work;
    sshd = await Sshd.start();
    const remote = path.join(w.dir, 'remote');
    const standbyDb = path.join(w.dir, 'standby.db');
    const primaryConfig = path.join(w.dir, 'primary.yml');
    const standbyConfig = path.join(w.dir, 'standby.yml');
    writeFileSync(primaryConfig, sftpConfig(w.db, sshd, remote));
    writeFileSync(standbyConfig, sftpConfig(standbyDb, sshd, remote));

    const primary = walship(['replicate', '-config', primaryConfig]);
    await runWriter('python', { db: w.db, from: 1, to: 30, payload: 'small', delayMs: 5 });
    // Transactions 1..30 are on the replica before anything is killed.
    await replicaSettled(remote, 1_500);
    const port = await freePort();
    const follower = walship(['restore', '-f', '-follow-interval', '200ms', '-addr', `127.0.0.1:${port}`, '-config', standbyConfig, standbyDb]);
    await follower.waitForEvent('started', 60_000);

    // Mid-stream: the writer commits while the primary is killed without a clean stop; it goes on
    // writing afterwards, so the old primary holds commits it never shipped.
    const writer = startWriter('python', { db: w.db, from: 31, to: 400, payload: 'small', delayMs: 10 });
    await sleep(2_000);
    primary.child.kill('SIGKILL');
    await once(primary.child, 'exit');
    await writer.done(120_000);
    expect(checkRestored(w.db, 'small').k).toBe(400);

    const shipped = await waitCaughtUp(port, remote);
    expect(shipped).toBe(replicaMaxTxid(remote));
    expect(await follower.stop()).toBe(0);
    const k = checkRestored(standbyDb, 'small').k;
    expect(k).toBeGreaterThanOrEqual(30);
    expect(k, 'the primary was killed mid-stream: its last commits never shipped').toBeLessThan(400);
    const snapshotsBefore = ltxFiles(remote, 9).map((f) => path.basename(f));

    // Promote: replicate on the follower's database, same replica; the application writes on.
    const promoted = walship(['replicate', '-config', standbyConfig]);
    const claim = await promoted.waitForEvent('promoted', 60_000);
    expect(claim.txid).toBe(shipped);
    await promoted.waitForEvent('started', 60_000);
    await runWriter('python', { db: standbyDb, from: k + 1, to: k + 150, payload: 'small', delayMs: 5, autocheckpoint: 40 });
    expect(await promoted.stop()).toBe(0);
    expect(events(promoted, 'full_capture'), 'promotion continues the chain: no full capture').toEqual([]);
    expect(ltxFiles(remote, 9).map((f) => path.basename(f)), 'no new snapshot').toEqual(snapshotsBefore);
    const firstNew = ltxFiles(remote, 0)
      .map((f) => path.basename(f))
      .filter((n) => Number.parseInt(n.slice(0, 16), 16) > shipped)
      .sort()[0];
    expect(Number.parseInt(firstNew!.slice(0, 16), 16), 'the first file after promotion continues at the next TXID').toBe(shipped + 1);
    expect(existsSync(path.join(w.dir, '.standby.db-walship-follow')), 'the follower state is gone').toBe(false);

    // A restore holds the old history and the new writes, exactly; so does Litestream's.
    const restored = path.join(w.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', standbyConfig, '-o', restored, standbyDb]);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(restored, 'small').k).toBe(k + 150);
    expect(dump(restored)).toBe(dump(standbyDb));
    const byLitestream = path.join(w.dir, 'litestream.db');
    const lr = await runLitestream(['restore', '-o', byLitestream, `file://${remote}`]);
    expect(lr.code, lr.output).toBe(0);
    expect(dump(byLitestream)).toBe(dump(standbyDb));

    // The old primary comes back with commits it never shipped: it refuses, naming the replica and
    // the new owner, and the replica's listing does not change.
    const before = listing(remote);
    const old = await runWalship(['replicate', '-config', primaryConfig], {}, 60_000);
    expect(old.code).toBe(1);
    const location = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}`;
    expect(old.stderr).toContain(`replica ${location} belongs to`);
    expect(old.stderr).toContain('generation 1');
    const fencedLines = old.stdout.split('\n').filter((l) => l.includes('"event":"fenced"'));
    expect(fencedLines).toHaveLength(1);
    expect(listing(remote)).toEqual(before);
    // Its database still holds everything it committed (nothing was dropped locally).
    expect(checkRestored(w.db, 'small').k).toBe(400);
    const again = path.join(w.dir, 'again.db');
    expect((await runWalship(['restore', '-config', standbyConfig, '-o', again, standbyDb])).code).toBe(0);
    expect(dump(again)).toBe(dump(standbyDb));
  }, 300_000);
});

describe('fencing while running (directory replica)', () => {
  it('an old primary paused through a promotion resumes and stops shipping: one log line, /status and /metrics say so, staging keeps its frames', async () => {
    const port = await freePort();
    work = makeWorkdir(`addr: 127.0.0.1:${port}\n`);
    const w = work;
    const standbyDb = path.join(w.dir, 'standby.db');
    const primary = walship(['replicate', '-config', w.config]);
    await primary.waitForEvent('started', 60_000);
    await runWriter('python', { db: w.db, from: 1, to: 50, payload: 'small', delayMs: 5 });
    const fport = await freePort();
    const follower = walship(['restore', '-f', '-follow-interval', '200ms', '-addr', `127.0.0.1:${fport}`, '-o', standbyDb, `file://${w.replica}`]);
    await follower.waitForEvent('started', 60_000);
    expect(checkRestored(w.db, 'small').k).toBe(50);
    for (let i = 0; i < 300 && (await followerTxid(fport)) !== replicaMaxTxid(w.replica); i++) await sleep(100);

    // The old primary is paused (a frozen container); its application goes on committing.
    primary.child.kill('SIGSTOP');
    await runWriter('python', { db: w.db, from: 51, to: 80, payload: 'small', delayMs: 5 });
    expect(await waitCaughtUp(fport, w.replica)).toBe(replicaMaxTxid(w.replica));
    expect(await follower.stop()).toBe(0);
    const k = checkRestored(standbyDb, 'small').k;
    expect(k).toBe(50);
    const promoted = walship(['replicate', standbyDb, `file://${w.replica}`]);
    const claimedAt = (await promoted.waitForEvent('promoted', 60_000)).txid as number;
    await promoted.waitForEvent('started', 60_000);
    await runWriter('python', { db: standbyDb, from: k + 1, to: k + 20, payload: 'small', delayMs: 5 });
    expect(await promoted.stop()).toBe(0);
    const before = listing(w.replica);
    const ownerTxid = replicaMaxTxid(w.replica);

    // Resumed, it captures 51..80 and goes to ship them: the fence stops it before any upload.
    primary.child.kill('SIGCONT');
    await primary.waitForEvent('fenced', 60_000);
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Array<{ txid: number; replicas: Array<{ fencedBy: string | null; lastError: string | null }> }>;
    expect(status[0]!.replicas[0]!.fencedBy).toContain(`replica file://${w.replica} belongs to`);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/walship_replica_fenced\{[^}]*\} 1\b/);
    // A few more commits on the old primary: still nothing shipped, still one log line.
    await runWriter('python', { db: w.db, from: 81, to: 90, payload: 'small', delayMs: 5 });
    for (let i = 0; i < 50 && status[0]!.txid >= ((await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Array<{ txid: number }>)[0]!.txid; i++) await sleep(100);
    expect(listing(w.replica)).toEqual(before);
    expect(events(primary, 'fenced')).toHaveLength(1);
    expect(events(primary, 'ship_failed')).toEqual([]);
    // Its unshipped frames wait in its staging, past what the replica had from it.
    const staged = ltxFiles(path.join(w.dir, '.app.db-walship'), 0).map((f) => Number.parseInt(path.basename(f).slice(17, 33), 16));
    expect(Math.max(...staged)).toBeGreaterThan(claimedAt);
    // It stops at once (nothing to wait for on a replica it may not write), with a failure status.
    expect(await primary.stop()).toBe(1);
    expect(listing(w.replica)).toEqual(before);
    expect(replicaMaxTxid(w.replica)).toBe(ownerTxid);
    const restored = path.join(w.dir, 'restored.db');
    expect((await runWalship(['restore', '-o', restored, `file://${w.replica}`])).code).toBe(0);
    expect(dump(restored)).toBe(dump(standbyDb));
  }, 300_000);
});

describe('automatic takeover (SFTP, real sshd)', () => {
  it('primary killed with a lease: the follower takes over, starts the app, and the first restore afterwards is exact', async () => {
    work = makeWorkdir();
    const w = work;
    sshd = await Sshd.start();
    const remote = path.join(w.dir, 'remote');
    const standbyDb = path.join(w.dir, 'standby.db');
    const primaryConfig = path.join(w.dir, 'primary.yml');
    const standbyConfig = path.join(w.dir, 'standby.yml');
    writeFileSync(primaryConfig, sftpConfig(w.db, sshd, remote, 'lease:\n  duration: 3s\n  renew-interval: 1s\n'));
    writeFileSync(standbyConfig, sftpConfig(standbyDb, sshd, remote));
    const primary = walship(['replicate', '-config', primaryConfig]);
    await primary.waitForEvent('fence_claimed', 60_000);
    await runWriter('python', { db: w.db, from: 1, to: 40, payload: 'small', delayMs: 5 });
    await replicaSettled(remote, 1_500);

    // The application the standby starts once it is the primary: it writes 50 more transactions after
    // whatever the database holds, then exits (and walship with it, after shipping).
    const app = path.join(w.dir, 'app.py');
    writeFileSync(
      app,
      `import json, sqlite3, subprocess, sys
db = sqlite3.connect(${JSON.stringify(standbyDb)})
k = db.execute("SELECT max(n) FROM tx").fetchone()[0]
db.close()
open(${JSON.stringify(path.join(w.dir, 'app-started'))}, "w").write(str(k))
opts = {"db": ${JSON.stringify(standbyDb)}, "from": k + 1, "to": k + 50, "payload": "small", "delayMs": 5}
sys.exit(subprocess.call([sys.executable, ${JSON.stringify(path.join(repoRoot, 'test', 'helpers', 'writer.py'))}, json.dumps(opts)], stdout=subprocess.DEVNULL))
`,
    );
    const port = await freePort();
    const standbyArgs = ['restore', '-f', '-if-db-not-exists', '-takeover', '-follow-interval', '200ms', '-addr', `127.0.0.1:${port}`, '-exec', `python3 ${app}`, '-config', standbyConfig, standbyDb];
    const standby = walship(standbyArgs);
    await standby.waitForEvent('started', 60_000);

    const writer = startWriter('python', { db: w.db, from: 41, to: 300, payload: 'small', delayMs: 10 });
    await sleep(1_500);
    primary.child.kill('SIGKILL');
    const killedAt = Date.now();
    await once(primary.child, 'exit');
    await writer.done(120_000);
    const shipped = replicaMaxTxid(remote);

    const expired = await standby.waitForEvent('lease_expired', 60_000);
    const tookMs = Date.now() - killedAt;
    expect(expired.txid, 'caught up with everything the old primary shipped before taking over').toBe(shipped);
    await standby.waitForEvent('promoted', 30_000);
    await standby.waitForEvent('exec_started', 30_000);
    const [code] = (await once(standby.child, 'exit')) as [number | null];
    expect(code, standby.logs().split('\n').slice(-20).join('\n')).toBe(0);
    const started = Number(readFileSync(path.join(w.dir, 'app-started'), 'utf8'));
    expect(started).toBeGreaterThanOrEqual(40);
    expect(started, 'the primary was killed mid-stream: its last commits never shipped').toBeLessThan(300);
    const k = checkRestored(standbyDb, 'small').k;
    expect(k).toBe(started + 50);

    const restored = path.join(w.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', standbyConfig, '-o', restored, standbyDb]);
    expect(r.code, r.stderr).toBe(0);
    expect(checkRestored(restored, 'small').k).toBe(k);
    expect(dump(restored)).toBe(dump(standbyDb));
    // The new primary holds the next generation, with a lease of its own (the old record's length).
    const record = JSON.parse(readFileSync(path.join(remote, 'walship-fence.json'), 'utf8')) as { generation: number; lease: { durationMs: number } | null };
    expect(record.generation).toBe(2);
    expect(record.lease?.durationMs).toBe(3_000);

    // The standby's command run again (a container restart): the database is a primary now, so it
    // replicates at once and starts the application, which writes 50 more.
    const restarted = walship(standbyArgs);
    await restarted.waitForEvent('already_primary', 60_000);
    const [again] = (await once(restarted.child, 'exit')) as [number | null];
    expect(again, restarted.logs().split('\n').slice(-20).join('\n')).toBe(0);
    expect(events(restarted, 'full_capture')).toEqual([]);
    expect(checkRestored(standbyDb, 'small').k).toBe(k + 50);
    const restored2 = path.join(w.dir, 'restored2.db');
    expect((await runWalship(['restore', '-config', standbyConfig, '-o', restored2, standbyDb])).code).toBe(0);
    expect(dump(restored2)).toBe(dump(standbyDb));
    console.log(`takeover: lease 3s, follow interval 200ms; lease_expired ${tookMs} ms after the kill`);
  }, 300_000);
});
