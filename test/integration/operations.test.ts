// Running walship in production: metrics, health, status, -exec, the replicator lock, shutdown
// with a long sync-interval, and validation catching a tampered replica.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LtxFile } from '../../src/ltx/decoder.js';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { freePort } from '../helpers/ports.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prometheus text to {"name{labels}": value}. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function poll<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < end && i < 1000; i++) {
    const v = await fn();
    if (v !== null) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('SIGTERM with sync-interval 5m', () => {
  it('ships everything committed before exiting', async () => {
    work = makeWorkdir('', '');
    writeFileSync(work.config, readFileSync(work.config, 'utf8').replace('sync-interval: 0s', 'sync-interval: 5m'));
    const { db, replica, config, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('python', { db, from: 1, to: 40, payload: 'small', delayMs: 10 });
    await sleep(1000);
    expect(await walship.stop('SIGTERM')).toBe(0);
    const out = path.join(dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(40);
    expect(dump(out)).toBe(dump(db));
  });
});

describe('metrics, health and status', () => {
  it('serves parseable metrics with lag, /readyz turns 503 while the replica is down and 200 after, status -json shows lag', async () => {
    const port = await freePort();
    work = makeWorkdir(`addr: 127.0.0.1:${port}\nready-lag: 1s\n`);
    const { db, replica, config } = work;
    const base = `http://127.0.0.1:${port}`;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('http_listening');
    await runWriter('node', { db, from: 1, to: 20, payload: 'small', delayMs: 20 });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await poll('ready', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : null));
    // Ready means less than ready-lag behind; the last commits may still sit in the group-commit
    // window, so wait for the replica to hold the local TXID before reading the lag.
    const labels = `{db="${db}",replica="file"}`;
    const metrics = await poll('caught up', async () => {
      const m = parseMetrics(await (await fetch(`${base}/metrics`)).text());
      const local = m.get(`walship_db_txid{db="${db}"}`);
      return local !== undefined && m.get(`walship_replica_txid${labels}`) === local ? m : null;
    });
    expect(metrics.get(`walship_replica_lag_seconds${labels}`)).toBe(0);
    const localTxid = metrics.get(`walship_db_txid{db="${db}"}`)!;
    expect(localTxid).toBeGreaterThan(0);
    expect(metrics.get(`walship_replica_txid${labels}`)).toBe(localTxid);
    expect(metrics.get(`walship_replica_bytes_shipped_total${labels}`)).toBeGreaterThan(0);
    expect(metrics.get(`walship_full_captures_total{db="${db}",reason="first capture of this database"}`)).toBe(1);

    // The replica goes away: a file where its directory was makes every write fail.
    renameSync(replica, `${replica}.away`);
    writeFileSync(replica, 'not a directory');
    await runWriter('node', { db, from: 21, to: 25, payload: 'small' });
    const notReady = await poll('readyz 503', async () => {
      const res = await fetch(`${base}/readyz`);
      return res.status === 503 ? ((await res.json()) as { detail: string[] }) : null;
    });
    expect(notReady.detail[0]).toContain('behind');
    const status = await runWalship(['status', '-config', config, '-json']);
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as { source: string; dbs: Array<{ replicas: Array<{ lagSeconds: number; lastError: string | null }> }> };
    expect(report.source).toBe('replicator');
    expect(report.dbs[0]!.replicas[0]!.lagSeconds).toBeGreaterThan(1);
    expect(report.dbs[0]!.replicas[0]!.lastError).toContain(replica);
    const errors = parseMetrics(await (await fetch(`${base}/metrics`)).text()).get(`walship_replica_sync_errors_total${labels}`);
    expect(errors).toBeGreaterThan(0);

    // Back: the backlog drains and readiness returns.
    rmSync(replica);
    renameSync(`${replica}.away`, replica);
    await poll('readyz 200', async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : null), 40_000);
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(25);
  });
});

describe('replicate -exec', () => {
  it('runs the application, ships everything when it exits, and exits with its status', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const writer = path.resolve('test/helpers/writer.py');
    const cmd = `python3 ${writer} '${JSON.stringify({ db, from: 1, to: 30, payload: 'small', delayMs: 10 })}' > /dev/null && exit 7`;
    const r = await runWalship(['replicate', '-config', config, '-exec', cmd]);
    expect(r.code).toBe(7);
    const out = path.join(dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(30);
  });

  it('forwards SIGTERM to the application', async () => {
    work = makeWorkdir();
    const walship = startWalship(['replicate', '-config', work.config, '-exec', 'trap "exit 3" TERM; echo trap-set; while true; do sleep 0.1; done']);
    await walship.waitForEvent('exec_started');
    // The signal must find the application's trap in place (a shell not yet that far exits 143).
    for (let i = 0; i < 200 && !walship.logs().includes('trap-set'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(walship.logs()).toContain('trap-set');
    expect(await walship.stop('SIGTERM')).toBe(3);
  });
});

describe('one replicator per database', () => {
  it('refuses a second replicator, naming the holder, and the first carries on', async () => {
    work = makeWorkdir();
    const { db, replica, config, dir } = work;
    const first = startWalship(['replicate', '-config', config]);
    await first.waitForEvent('started');
    const second = await runWalship(['replicate', '-config', config]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`already being replicated by pid ${first.child.pid} on host \\S+`));
    await runWriter('node', { db, from: 1, to: 10, payload: 'small' });
    expect(await first.stop()).toBe(0);
    const out = path.join(dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(10);
  });
});

describe('validation', () => {
  it('passes on an intact replica and catches a tampered one, asking the running replicator', async () => {
    const port = await freePort();
    work = makeWorkdir(`addr: 127.0.0.1:${port}\n`);
    const { db, replica, config } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('http_listening');
    await runWriter('node', { db, from: 1, to: 15, payload: 'small', delayMs: 30 });

    const good = await runWalship(['validate', '-config', config, db]);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/file\s+\d+\s+ok/);

    // Rewrite the newest level-0 file as a valid LTX file with one page changed.
    const target = ltxFiles(replica, 0).at(-1)!;
    const file = LtxFile.open(readFileSync(target));
    const enc = await LtxEncoder.create(file.header);
    const parts = [enc.begin()];
    let changed = false;
    for await (const p of file.pages()) {
      if (!changed && p.pgno > 1) {
        p.data[p.data.length - 1] ^= 0xff;
        changed = true;
      }
      parts.push(...enc.encodePage(p.pgno, p.data));
    }
    parts.push(enc.finish());
    writeFileSync(target, Buffer.concat(parts));
    const bad = await runWalship(['validate', '-config', config, db]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('MISMATCH');
    // The replicator answers a mismatch with a fresh snapshot, so the replica is whole again.
    await walship.waitForEvent('validation_failed');
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(15);
    expect(dump(out)).toBe(dump(db));
  });
});

describe('two replicators writing to one replica', () => {
  it('the second to claim a TXID stops shipping instead of forking the history', async () => {
    work = makeWorkdir('shutdown-sync-timeout: 2s\n');
    const { db, replica, config, dir } = work;
    // A second database (another host's copy) configured with the same replica.
    const otherDb = path.join(dir, 'other', 'app.db');
    const otherConfig = path.join(dir, 'other.yml');
    writeFileSync(otherConfig, readFileSync(config, 'utf8').replace(db, otherDb));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.dirname(otherDb));
    const a = startWalship(['replicate', '-config', config]);
    await a.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 5, payload: 'small' });
    await sleep(500);
    const b = startWalship(['replicate', '-config', otherConfig]);
    await b.waitForEvent('started');
    // Both now claim the next TXIDs.
    await Promise.all([
      runWriter('node', { db, from: 6, to: 40, payload: 'small', delayMs: 15 }),
      runWriter('python', { db: otherDb, from: 1, to: 40, payload: 'small', delayMs: 15 }),
    ]);
    await sleep(500);
    const conflicted = [a, b].map((p) => p.logs().includes('"event":"replica_conflict"'));
    expect(conflicted.filter(Boolean)).toHaveLength(1);
    await a.stop('SIGTERM', 15_000);
    await b.stop('SIGTERM', 15_000);
    // The replica holds one history: the winner's, whole.
    const winnerDb = conflicted[0] ? otherDb : db;
    const out = path.join(dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(dump(out)).toBe(dump(winnerDb));
  });
});
