// heartbeat-url against a local HTTP server, with walship as a real process and a real writer:
// one GET after the first successful sync and no second one within the interval; none while the
// replica fails; the GET comes once the replica is back and has everything. The URL's token never
// reaches the logs. A heartbeat-interval under Litestream's 1m minimum is refused.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRestored } from '../helpers/oracle.js';
import { freePort } from '../helpers/ports.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let server: http.Server | null = null;
afterEach(async () => {
  work?.cleanup();
  work = null;
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function poll<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < end && i < 1000; i++) {
    const v = await fn();
    if (v !== null) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function pingServer(): Promise<{ url: string; pings: Array<{ method: string; url: string; at: number }> }> {
  const pings: Array<{ method: string; url: string; at: number }> = [];
  server = http.createServer((req, res) => {
    pings.push({ method: req.method!, url: req.url!, at: Date.now() });
    res.writeHead(200).end('OK');
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping/hc-token-5f1e`, pings };
}

/** walship_* samples from /metrics, keyed by "name{labels}". */
async function metrics(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).split('\n')) {
    if (!line.startsWith('walship_')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('heartbeat-url', () => {
  it('pings once after the first successful sync and not again within heartbeat-interval', async () => {
    const { url, pings } = await pingServer();
    const port = await freePort();
    work = makeWorkdir(`addr: 127.0.0.1:${port}\nheartbeat-url: ${url}\nheartbeat-interval: 1m\n`);
    const { db, config, replica, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 20, payload: 'small', delayMs: 10 });
    await poll('the first heartbeat', async () => (pings.length > 0 ? true : null));
    expect(pings).toEqual([{ method: 'GET', url: '/ping/hc-token-5f1e', at: pings[0]!.at }]);

    // More commits, each shipped (the replica catches up to the database again): still one ping.
    const before = (await metrics(port)).get(`walship_replica_syncs_total{db="${db}",replica="file"}`)!;
    await runWriter('node', { db, from: 21, to: 60, payload: 'small', delayMs: 20 });
    await poll('the replica caught up', async () => {
      const m = await metrics(port);
      const txid = m.get(`walship_db_txid{db="${db}"}`);
      return txid !== undefined && m.get(`walship_replica_txid{db="${db}",replica="file"}`) === txid ? true : null;
    });
    const m = await metrics(port);
    expect(m.get(`walship_replica_syncs_total{db="${db}",replica="file"}`)).toBeGreaterThan(before);
    await sleep(2500); // several of the heartbeat's 1 s checks, each with a fresh successful sync
    expect(pings.length).toBe(1);
    expect((await metrics(port)).get('walship_heartbeats_total{result="ok"}')).toBe(1);

    expect(await walship.stop()).toBe(0);
    expect(walship.logs()).not.toContain('hc-token-5f1e');
    const out = path.join(dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(60);
  });

  it('sends nothing while the replica fails, and pings once it is back and caught up', async () => {
    const { url, pings } = await pingServer();
    const port = await freePort();
    work = makeWorkdir(`addr: 127.0.0.1:${port}\nheartbeat-url: ${url}\nheartbeat-interval: 1m\n`);
    const { db, config, replica, dir } = work;
    // A file where the replica's directory should be: every listing and upload fails.
    writeFileSync(replica, 'not a directory');
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 30, payload: 'small', delayMs: 10 });
    const errorsKey = `walship_replica_sync_errors_total{db="${db}",replica="file"}`;
    await poll('several failed syncs', async () => (((await metrics(port)).get(errorsKey) ?? 0) >= 3 ? true : null));
    expect(pings).toEqual([]);

    rmSync(replica);
    const healedAt = Date.now();
    await poll('a heartbeat after the replica is back', async () => (pings.length > 0 ? true : null));
    expect(pings.length).toBe(1);
    expect(pings[0]!.at).toBeGreaterThan(healedAt);
    const m = await metrics(port);
    expect(m.get(`walship_replica_txid{db="${db}",replica="file"}`)).toBe(m.get(`walship_db_txid{db="${db}"}`));
    expect(await walship.stop()).toBe(0);
    // The replica shipped while the heartbeat stayed quiet holds every transaction.
    renameSync(replica, `${replica}.copy`);
    const out = path.join(dir, 'out.db');
    expect((await runWalship(['restore', '-o', out, `file://${replica}.copy`])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(30);
  });

  it('refuses a heartbeat-interval under 1m and a URL that is not http(s), naming the key', async () => {
    work = makeWorkdir('heartbeat-url: http://127.0.0.1:9/ping\nheartbeat-interval: 30s\n');
    const short = await runWalship(['replicate', '-config', work.config]);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/heartbeat-interval: must be at least 1m/);
    work.cleanup();
    work = makeWorkdir('heartbeat-url: ftp://example.invalid/secret-path\n');
    const bad = await runWalship(['replicate', '-config', work.config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/heartbeat-url: must be an http:\/\/ or https:\/\/ URL/);
    expect(bad.stderr).not.toContain('secret-path');
  });
});
