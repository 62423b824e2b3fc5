// A real Prometheus (Debian's package) on 127.0.0.1 scrapes a running walship whose replica is
// blocked, with a test copy of deploy/prometheus/walship.rules.yml whose `for:` durations are cut
// to 1s (nothing else changed). Through Prometheus's HTTP API: the lag series grows, and the
// sync-errors alert fires for that replica. Every metric name the rules and the Grafana dashboard
// use is in walship's /metrics output, and every dashboard query is valid PromQL that Prometheus
// evaluates.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../helpers/ports.js';
import { repoRoot, runWriter, startWalship, track, type WalshipProcess } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

const rulesFile = path.join(repoRoot, 'deploy', 'prometheus', 'walship.rules.yml');
const dashboardFile = path.join(repoRoot, 'deploy', 'grafana', 'walship.json');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function poll<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (let i = 0; Date.now() < end && i < 1000; i++) {
    try {
      const v = await fn();
      if (v !== null) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
}

/** The shipped rules with every `for:` set to 1s: the only change. */
function testRules(): string {
  const doc = parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  for (const g of doc.groups) for (const r of g.rules) if (r.for !== undefined) r.for = '1s';
  return stringify(doc);
}

/** Every PromQL expression in the dashboard, as written (with Grafana's variables). */
function dashboardExprs(): string[] {
  const d = JSON.parse(readFileSync(dashboardFile, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> } };
  return d.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

function metricNames(exprs: readonly string[]): string[] {
  return [...new Set(exprs.flatMap((e) => e.match(/\bwalship_[a-z0-9_]+/g) ?? []))].sort();
}

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>;

let work: Workdir;
let walship: WalshipProcess;
let prometheus: ChildProcess;
let promBase: string;
let walshipPort: number;
let promLog = '';

beforeAll(async () => {
  walshipPort = await freePort();
  const promPort = await freePort();
  promBase = `http://127.0.0.1:${promPort}`;
  // checkpoint-interval 1s so walship_checkpoints_total has a sample; a heartbeat (to a closed
  // port) so walship_heartbeats_total does.
  const heartbeatPort = await freePort();
  work = makeWorkdir(`addr: 127.0.0.1:${walshipPort}\nshutdown-sync-timeout: 2s\nheartbeat-url: http://127.0.0.1:${heartbeatPort}/\n`);
  writeFileSync(work.config, readFileSync(work.config, 'utf8').replace('    replicas:', '    checkpoint-interval: 1s\n    replicas:'));
  // The replica is blocked: a file where its directory should be, so every listing and upload fails.
  writeFileSync(work.replica, 'blocked');

  const rules = path.join(work.dir, 'walship.rules.test-copy.yml');
  writeFileSync(rules, testRules());
  const promConfig = path.join(work.dir, 'prometheus.yml');
  writeFileSync(
    promConfig,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rules],
      scrape_configs: [{ job_name: 'walship', static_configs: [{ targets: [`127.0.0.1:${walshipPort}`] }] }],
    }),
  );
  walship = startWalship(['replicate', '-config', work.config]);
  await walship.waitForEvent('http_listening');
  prometheus = track(
    spawn('prometheus', [`--config.file=${promConfig}`, `--storage.tsdb.path=${path.join(work.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  prometheus.on('error', (err) => (promLog += `spawn failed: ${err.message} (scripts/setup-prometheus.sh installs prometheus)\n`));
  prometheus.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
  prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
  await poll('Prometheus ready', async () => ((await fetch(`${promBase}/-/ready`)).ok ? true : null), 60_000).catch((err: Error) => {
    throw new Error(`${err.message}; Prometheus output:\n${promLog}`);
  });
  await runWriter('node', { db: work.db, from: 1, to: 30, payload: 'small', delayMs: 20 });
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = once(prometheus, 'exit');
    prometheus.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
  }
  await walship?.stop();
  work?.cleanup();
});

async function query(expr: string): Promise<{ status: string; data: { resultType: string; result: Vector }; error?: string }> {
  const res = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as { status: string; data: { resultType: string; result: Vector }; error?: string };
}

describe('Prometheus scraping walship with a blocked replica', () => {
  it('shows the lag series growing and fires WalshipReplicaSyncErrors for that replica', async () => {
    const labels = { db: work.db, replica: 'file' };
    const lag = await poll('a lag sample over 1s', async () => {
      const r = await query('walship_replica_lag_seconds');
      const s = r.data.result.find((x) => x.metric.db === labels.db && x.metric.replica === labels.replica);
      return s && Number(s.value[1]) > 1 ? s : null;
    });
    expect(lag.metric).toMatchObject({ __name__: 'walship_replica_lag_seconds', job: 'walship', ...labels });

    const alert = await poll('WalshipReplicaSyncErrors firing', async () => {
      const r = (await (await fetch(`${promBase}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ labels: Record<string, string>; state: string; annotations: Record<string, string> }> } };
      return r.data.alerts.find((a) => a.labels.alertname === 'WalshipReplicaSyncErrors' && a.state === 'firing') ?? null;
    });
    expect(alert.labels).toMatchObject({ severity: 'warning', job: 'walship', ...labels });
    expect(alert.annotations.summary).toBe(`walship cannot ship ${work.db} to replica file`);
    // Not every alert fires: the database itself is fine, and no validation ran.
    const firing = (await query('ALERTS{alertstate="firing"}')).data.result.map((s) => s.metric.alertname);
    expect(firing).not.toContain('WalshipValidationMismatch');
    expect(firing).not.toContain('WalshipReplicaBacklogOverflow');
  });

  it('has a sample in /metrics for every metric name the rules and the dashboard use', async () => {
    const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules.map((r) => r.expr));
    const names = metricNames([...rules, ...dashboardExprs()]);
    expect(names.length).toBeGreaterThan(10);
    const missing = await poll('every name in /metrics', async () => {
      const text = await (await fetch(`http://127.0.0.1:${walshipPort}/metrics`)).text();
      const samples = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]));
      const absent = names.filter((n) => !samples.has(n));
      // Checkpoints come on their own interval: wait for them, but report what is missing if not.
      return absent.length === 0 ? absent : absent.every((n) => n === 'walship_checkpoints_total') ? null : absent;
    }, 30_000);
    expect(missing).toEqual([]);
  });

  it('evaluates every dashboard query without error, and the lag and TXID panels have data', async () => {
    const vars = (e: string): string => e.replaceAll('$__rate_interval', '1m').replaceAll('$db', '.*');
    for (const expr of dashboardExprs()) {
      const r = await query(vars(expr));
      expect({ expr, status: r.status, error: r.error }).toEqual({ expr, status: 'success', error: undefined });
    }
    const lag = await query(vars(dashboardExprs()[0]!));
    expect(lag.data.result.map((s) => s.metric.replica)).toEqual(['file']);
    const txids = await query(vars(dashboardExprs()[2]!));
    expect(txids.data.result.length).toBeGreaterThan(0);
  });
});
