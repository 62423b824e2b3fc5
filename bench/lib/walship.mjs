// walship as the user runs it: `node dist/cli/main.js replicate -config F` (with the node flags of
// the bin's shebang), a separate process. Its pino JSON log lines are parsed as they arrive, each
// with `_t` (epoch ms when the line reached us); /status and /metrics are read over HTTP.
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../test/kit/wait.mjs';
import { Sidecar } from './sidecar.mjs';

const MAX_EVENTS = 500_000;

/**
 * Writes a walship config for one database and one replica.
 * replica: { type: 'sftp', sshd, path } or { type: 'file', path }.
 */
export async function writeWalshipConfig(file, { dbPath, replica, syncInterval, addrPort, l0Retention = '24h', extra = {} }) {
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

/** The node flags in the bin's shebang (`#!/usr/bin/env -S node FLAGS`), so the bench runs walship as installed. */
function shebangNodeArgs(main) {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0];
  const m = /^#!.*\bnode((?:\s+-\S+)*)\s*$/.exec(first);
  return m ? m[1].split(/\s+/).filter(Boolean) : [];
}

/**
 * node's arguments to run a walship command from `distDir` as installed: the shebang's flags, then
 * WALSHIP_BENCH_NODE_ARGS (diagnosis only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"), then the script.
 */
export function walshipNodeArgs(distDir) {
  const main = path.join(distDir, 'cli', 'main.js');
  const extra = (process.env.WALSHIP_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  return [...shebangNodeArgs(main), ...extra, main];
}

export class Walship extends Sidecar {
  /** Parsed log lines, each with `_t`. */
  events = [];

  constructor(distDir, configPath, addrPort, { logLevel = 'info', cgroups = [] } = {}) {
    super('walship', process.execPath, [...walshipNodeArgs(distDir), 'replicate', '-config', configPath], {
      env: { ...process.env, LOG_LEVEL: logLevel },
      cgroups,
    });
    this.addrPort = addrPort;
  }

  async start() {
    this.spawn((line, t, stream) => {
      if (stream !== 'stdout' || !line.startsWith('{') || this.events.length >= MAX_EVENTS) return;
      try {
        const e = JSON.parse(line);
        e._t = t;
        this.events.push(e);
      } catch {
        // not a log line
      }
    });
    const ok = await waitFor(async () => this.running && (await this.status().catch(() => null)) !== null, 15_000, 50);
    if (!ok) throw new Error(`walship did not start: exit ${this.exitCode}\n${this.tail(40)}`);
  }

  async status() {
    const res = await fetch(`http://127.0.0.1:${this.addrPort}/status`, { signal: AbortSignal.timeout(2000) });
    return res.json();
  }

  async metrics() {
    const res = await fetch(`http://127.0.0.1:${this.addrPort}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.text();
  }

  /** Bytes shipped so far, every level (walship_replica_bytes_shipped_total); null when /metrics does not answer. */
  async shippedBytes() {
    const text = await this.metrics().catch(() => null);
    if (text === null) return null;
    let sum = 0;
    for (const line of text.split('\n')) if (line.startsWith('walship_replica_bytes_shipped_total')) sum += Number(line.split(/\s+/).pop());
    return sum;
  }

  /** The `uploaded` log lines (LOG_LEVEL=debug). */
  uploads() {
    return this.events.filter((e) => e.event === 'uploaded');
  }
}
