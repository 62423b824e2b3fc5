// walship as the user runs it: `node dist/cli/main.js replicate -config F`, a separate process.
// Its pino JSON log lines are collected with the time each arrived; its memory is sampled from
// /proc/PID/status every 100 ms (VmRSS), and VmHWM (the kernel's peak-RSS mark) is read at stop.
import { spawn } from 'node:child_process';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { children, memOf, now, waitFor } from './util.mjs';

/** The machine is shared: a sidecar past this RSS is killed, and the run says so. */
const RSS_LIMIT_KB = Math.min(8 * 1024 * 1024, Math.floor(os.totalmem() / 1024 / 3));

const MAX_EVENTS = 500_000;


/**
 * Writes a walship config for one database and one replica.
 * replica: { type: 'sftp', sshd, path } or { type: 'file', path }.
 */
export async function writeConfig(file, { dbPath, replica, syncInterval, addrPort, l0Retention = '24h', extra = {} }) {
  const lines = [`addr: 127.0.0.1:${addrPort}`, `l0-retention: ${l0Retention}`, 'dbs:', `  - path: ${dbPath}`];
  for (const [k, v] of Object.entries(extra.db ?? {})) lines.push(`    ${k}: ${v}`);
  lines.push('    replicas:');
  if (replica.type === 'sftp') {
    lines.push(`      - url: ${replica.sshd.sftpUrl(replica.path)}`);
    lines.push(`        key-path: ${replica.sshd.clientKey.privateKeyPath}`);
    lines.push(`        host-key: "${replica.sshd.hostKeyLine}"`);
  } else {
    lines.push(`      - url: file://${replica.path}`);
  }
  lines.push(`        sync-interval: ${syncInterval}`);
  for (const [k, v] of Object.entries(extra.replica ?? {})) lines.push(`        ${k}: ${v}`);
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}

export class Walship {
  /** Parsed log lines, each with `_t` (epoch ms when the line reached us). */
  events = [];
  peakRssKb = 0;
  peakHwmKb = 0;
  exitCode = null;
  killedForMemory = false;
  /** [ms since start, VmRSS kB], one sample a second. */
  rssTimeline = [];

  constructor(distDir, configPath, addrPort, { logLevel = 'info' } = {}) {
    this.distDir = distDir;
    this.configPath = configPath;
    this.addrPort = addrPort;
    this.logLevel = logLevel;
  }

  async start() {
    const env = { ...process.env, LOG_LEVEL: this.logLevel };
    // WALSHIP_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" profiles the sidecar (diagnosis only).
    const nodeArgs = (process.env.WALSHIP_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const main = path.join(this.distDir, 'cli', 'main.js');
    this.proc = spawn(process.execPath, [...shebangNodeArgs(main), ...nodeArgs, main, 'replicate', '-config', this.configPath], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.track(this.proc);
    this.pid = this.proc.pid;
    this.stderr = '';
    let buf = '';
    this.proc.stdout.setEncoding('utf8').on('data', (chunk) => {
      const t = now();
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop();
      for (const line of parts) {
        if (!line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line);
          e._t = t;
          if (this.events.length < MAX_EVENTS) this.events.push(e);
        } catch {
          // not a log line
        }
      }
    });
    this.proc.stderr.setEncoding('utf8').on('data', (c) => {
      if (this.stderr.length < 100_000) this.stderr += c;
    });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve((this.exitCode = code ?? signal))));
    this.startedAt = now();
    this.sampler = setInterval(() => void this.sample(), 100);
    const ok = await waitFor(async () => this.exitCode === null && (await this.status().catch(() => null)) !== null, 15_000, 50);
    if (!ok) throw new Error(`walship did not start: exit ${this.exitCode}\n${this.stderr}\n${this.tail()}`);
  }

  tail(n = 20) {
    return this.events
      .slice(-n)
      .map((e) => JSON.stringify(e))
      .join('\n');
  }

  async sample() {
    const m = await memOf(this.pid);
    if (!m) return;
    this.peakRssKb = Math.max(this.peakRssKb, m.rssKb);
    this.peakHwmKb = Math.max(this.peakHwmKb, m.hwmKb);
    if (m.rssKb > RSS_LIMIT_KB && this.exitCode === null) {
      this.killedForMemory = true;
      this.proc.kill('SIGKILL');
    }
    const t = now() - this.startedAt;
    const last = this.rssTimeline.at(-1);
    if (!last || t - last[0] >= 1000) this.rssTimeline.push([Math.round(t), m.rssKb]);
  }

  async status() {
    const res = await fetch(`http://127.0.0.1:${this.addrPort}/status`, { signal: AbortSignal.timeout(2000) });
    return res.json();
  }

  async metrics() {
    const res = await fetch(`http://127.0.0.1:${this.addrPort}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.text();
  }

  /** True when the replica holds every captured TXID (from /status). */
  async caughtUp() {
    const st = await this.status().catch(() => null);
    const db = st?.[0] ?? st?.dbs?.[0];
    if (!db || !db.txid) return false;
    return db.replicas.every((r) => r.txid >= db.txid);
  }

  /** Waits until the replica holds what was captured and nothing new was captured for `quietMs`. */
  async waitCaughtUp(timeoutMs, quietMs = 300) {
    let since = 0;
    let lastTxid = -1;
    return waitFor(
      async () => {
        const st = await this.status().catch(() => null);
        const db = st?.[0] ?? st?.dbs?.[0];
        if (!db || !db.txid || !db.replicas.every((r) => r.txid >= db.txid)) {
          since = 0;
          return false;
        }
        if (db.txid !== lastTxid) {
          lastTxid = db.txid;
          since = now();
          return false;
        }
        return now() - since >= quietMs;
      },
      timeoutMs,
      50,
    );
  }

  uploads() {
    return this.events.filter((e) => e.event === 'uploaded');
  }

  /** SIGTERM, then waits (bounded) for the graceful, shipped exit. */
  async stop(timeoutMs = 120_000) {
    await this.sample();
    clearInterval(this.sampler);
    if (this.exitCode === null) this.proc.kill('SIGTERM');
    let timer;
    const done = await Promise.race([this.exited.then(() => true), new Promise((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    if (!done) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
    return {
      exitCode: this.exitCode,
      graceful: done,
      killedForMemory: this.killedForMemory,
      peakRssMb: this.peakRssKb / 1024,
      peakHwmMb: this.peakHwmKb / 1024,
      rssMbTimeline: this.rssTimeline.map(([t, kb]) => [Math.round(t / 1000), Math.round(kb / 102.4) / 10]),
    };
  }
}

/** The node flags in the bin's shebang (`#!/usr/bin/env -S node FLAGS`), so the bench runs walship as installed. */
function shebangNodeArgs(main) {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0];
  const m = /^#!.*\bnode((?:\s+-\S+)*)\s*$/.exec(first);
  return m ? m[1].split(/\s+/).filter(Boolean) : [];
}
