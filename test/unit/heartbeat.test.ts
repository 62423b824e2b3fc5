// The heartbeat's decision (pure), and its I/O shell against a local HTTP server: one GET per
// interval at most, none while a replica is unhealthy, a failed ping not retried before the next
// interval, and the URL's path (which may be a token) never logged.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Heartbeat, heartbeatDue, type ReplicaHealth } from '../../src/replication/heartbeat.js';

const MIN = 60_000;
const T0 = 1_800_000_000_000;
const healthy = (over: Partial<ReplicaHealth> = {}): ReplicaHealth => ({ lastSyncAt: new Date(T0 - 1000), lastError: null, lagSeconds: 0, backlogOverflowed: false, ...over });

describe('heartbeatDue', () => {
  it('is due on the first check once every replica synced, then at most once per interval', () => {
    expect(heartbeatDue(T0, null, MIN, [healthy(), healthy()])).toEqual({ due: true });
    expect(heartbeatDue(T0 + MIN - 1, T0, MIN, [healthy()])).toEqual({ due: false, reason: 'pinged within the interval' });
    expect(heartbeatDue(T0 + MIN, T0, MIN, [healthy()])).toEqual({ due: true });
  });

  it('is not due while any replica is unhealthy', () => {
    expect(heartbeatDue(T0, null, MIN, [])).toEqual({ due: false, reason: 'no replicas' });
    expect(heartbeatDue(T0, null, MIN, [healthy(), healthy({ lastSyncAt: null })])).toEqual({ due: false, reason: 'a replica has not synced yet' });
    expect(heartbeatDue(T0, null, MIN, [healthy({ lastError: 'EACCES' }), healthy()])).toEqual({ due: false, reason: 'a replica is failing' });
    expect(heartbeatDue(T0, null, MIN, [healthy({ backlogOverflowed: true })])).toEqual({ due: false, reason: 'a replica overflowed its backlog' });
    // Lagging, with its last sync an interval ago: stuck (a hung server reports no error).
    expect(heartbeatDue(T0, null, MIN, [healthy({ lagSeconds: 3, lastSyncAt: new Date(T0 - MIN) })])).toEqual({ due: false, reason: 'a replica has not synced within the interval' });
  });

  it('counts an idle, caught-up replica as healthy however old its last sync (walship sends nothing while idle)', () => {
    expect(heartbeatDue(T0, T0 - 10 * MIN, MIN, [healthy({ lastSyncAt: new Date(T0 - 24 * 60 * MIN) })])).toEqual({ due: true });
    // Lagging but synced recently: catching up, healthy.
    expect(heartbeatDue(T0, null, MIN, [healthy({ lagSeconds: 2, lastSyncAt: new Date(T0 - 5000) })])).toEqual({ due: true });
  });
});

describe('Heartbeat against a local HTTP server', () => {
  let server: http.Server | null = null;
  afterEach(async () => {
    await new Promise((r) => server?.close(r) ?? r(undefined));
    server = null;
  });

  async function listen(status: () => number): Promise<{ url: string; requests: Array<{ method: string; url: string }> }> {
    const requests: Array<{ method: string; url: string }> = [];
    server = http.createServer((req, res) => {
      requests.push({ method: req.method!, url: req.url! });
      res.writeHead(status()).end('ok');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping/token-abc123`, requests };
  }

  function logger(): { log: Logger; lines: string[] } {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) });
    const log: Logger = pino({ level: 'debug' }, sink);
    return { log, lines };
  }

  it('sends one GET per interval while healthy and none while a replica fails; a failure is not retried early', async () => {
    let code = 200;
    const { url, requests } = await listen(() => code);
    let health = [healthy({ lastError: 'ENOTDIR' })];
    const results: string[] = [];
    const { log, lines } = logger();
    const hb = new Heartbeat({ url, intervalMs: MIN, health: () => health, log, onResult: (r) => results.push(r) });

    for (let i = 0; i < 5; i++) await hb.check(T0 + i * 1000);
    expect(requests).toEqual([]);

    health = [healthy()];
    for (let i = 0; i < 5; i++) await hb.check(T0 + 10_000 + i * 1000);
    expect(requests).toEqual([{ method: 'GET', url: '/ping/token-abc123' }]);

    // The next interval: the server fails; the attempt counts, so no retry before the one after.
    code = 500;
    for (let i = 0; i < 5; i++) await hb.check(T0 + 10_000 + MIN + i * 1000);
    expect(requests.length).toBe(2);
    code = 200;
    await hb.check(T0 + 10_000 + MIN + 30_000);
    expect(requests.length).toBe(2);
    await hb.check(T0 + 10_000 + 2 * MIN);
    expect(requests.length).toBe(3);
    expect(results).toEqual(['ok', 'error', 'ok']);

    const logged = lines.join('');
    expect(logged).toContain('"event":"heartbeat_failed"');
    expect(logged).toContain('HTTP status 500');
    expect(logged).toContain('"event":"heartbeat_recovered"');
    expect(logged).not.toContain('token-abc123');
    hb.stop();
  });

  it('reports a refused connection without the URL path', async () => {
    const { url } = await listen(() => 200);
    await new Promise((r) => server!.close(r));
    server = null;
    const { log, lines } = logger();
    const results: string[] = [];
    const hb = new Heartbeat({ url, intervalMs: MIN, health: () => [healthy()], log, onResult: (r) => results.push(r) });
    await hb.check(T0);
    expect(results).toEqual(['error']);
    const line = JSON.parse(lines.find((l) => l.includes('heartbeat_failed'))!) as { err: string; target: string };
    expect(line.err).toBe('ECONNREFUSED');
    expect(line.target).toBe(new URL(url).origin);
    expect(lines.join('')).not.toContain('token-abc123');
  });
});
