// What every scenario shares: the work directory, the private copy of dist/, the two sshd, the
// sidecars (walship and Litestream, by setting), the replica watchers, sftp batches, and the
// clean-up of every child (by pid; a detached watchdog ends them if the bench dies uncleanly).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/kit/ports.mjs';
import { onLines, onTrack, track } from '../test/kit/procs.mjs';
import { Sshd } from '../test/kit/sshd.mjs';
import { waitFor } from '../test/kit/wait.mjs';
import { Litestream, litestreamBin, writeLitestreamConfig } from './lib/litestream.mjs';
import { MB, percentile, runCmd } from './lib/stats.mjs';
import { Walship, writeWalshipConfig } from './lib/walship.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.dirname(HERE);

/** The sidecar settings the comparison runs, by name. */
export const ARMS = {
  none: { tool: 'none', label: 'no sidecar' },
  'walship-fast': { tool: 'walship', syncInterval: '0s', label: 'walship sync-interval 0s' },
  'walship-default': { tool: 'walship', syncInterval: '1s', label: 'walship 1s (default)' },
  'litestream-default': { tool: 'litestream', label: 'Litestream default (1 s)' },
  'litestream-fast': { tool: 'litestream', monitorInterval: '100ms', syncInterval: '10ms', label: 'Litestream monitor 100ms, sync 10ms' },
};

export class Bench {
  cleanups = [];
  sshd = null;
  audit = null;
  base = null;
  dist = null;
  watchdog = null;

  constructor({ quick, keep, replicaType }) {
    this.quick = quick;
    this.keep = keep;
    this.replicaType = replicaType;
  }

  log(...a) {
    process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
  }

  async setup() {
    // The watchdog ends every child (by pid, with what runs under it) if this process dies uncleanly.
    this.watchdog = spawn(process.execPath, [path.join(HERE, 'lib', 'watchdog.mjs')], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    this.watchdog.unref();
    this.watchdog.stdin.unref?.();
    onTrack((child) => {
      if (!this.watchdog || child.pid === undefined) return;
      this.watchdog.stdin.write(`tree ${child.pid}\n`);
      child.once('exit', () => this.watchdog?.stdin.write(`forget ${child.pid}\n`));
    });
    this.base = await fsp.mkdtemp(path.join(os.tmpdir(), 'walship-bench-'));
    await fsp.chmod(this.base, 0o755);
    if (!this.keep) this.watchdog.stdin.write(`rm ${this.base}\n`);
    this.dist = await this.#snapshotDist();
    this.watchdog.stdin.write(`rm ${this.dist}\n`);
    this.litestreamBin = litestreamBin(ROOT);
    if (this.replicaType === 'sftp') {
      // The measured server logs nothing, as the project's replica image; the audit server logs every request.
      this.sshd = await Sshd.start({ baseDir: this.base, sftpLog: null });
      this.cleanups.push(() => this.sshd.stop());
      this.audit = await Sshd.start({ baseDir: this.base, audit: true, maxLogLines: 200_000, keys: { hostKey: this.sshd.hostKey, clientKey: this.sshd.clientKey } });
      this.cleanups.push(() => this.audit.stop());
    }
  }

  async cleanup() {
    for (const f of this.cleanups.splice(0).reverse()) {
      try {
        await f();
      } catch {
        // keep going: every other child still has to be ended
      }
    }
    if (this.watchdog) {
      this.watchdog.stdin.end('done\n');
      this.watchdog = null;
    }
    if (this.dist) await fsp.rm(this.dist, { recursive: true, force: true }).catch(() => undefined);
    if (this.base && !this.keep) await fsp.rm(this.base, { recursive: true, force: true }).catch(() => undefined);
  }

  /** A private copy of dist/, so a rebuild by someone else mid-run cannot change what is measured. */
  async #snapshotDist() {
    // WALSHIP_BENCH_DIST=DIR measures another build (an experiment) instead of dist/.
    const src = process.env.WALSHIP_BENCH_DIST ? path.resolve(process.env.WALSHIP_BENCH_DIST) : path.join(ROOT, 'dist');
    if (!existsSync(path.join(src, 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build first (npm run bench does)');
    const dst = path.join(HERE, `.dist-${process.pid}`);
    await fsp.cp(src, dst, { recursive: true });
    return dst;
  }

  /** A scenario's directory: the database in <dir>/app/ (the sidecar's local state beside it), the replica in <dir>/replica/. */
  async scenarioDir(name) {
    const dir = path.join(this.base, name);
    await fsp.mkdir(path.join(dir, 'app'), { recursive: true });
    return dir;
  }

  dbOf(dir) {
    return path.join(dir, 'app', 'app.db');
  }

  l0Of(dir) {
    return path.join(dir, 'replica', 'ltx', '0');
  }

  replicaFor(dir, server = this.sshd) {
    const p = path.join(dir, 'replica');
    return this.replicaType === 'file' ? { type: 'file', path: p } : { type: 'sftp', sshd: server, path: p };
  }

  /**
   * Starts a sidecar for the database in `dir`: `arm` is one of ARMS (or { tool, syncInterval,
   * monitorInterval }); `server` the sshd to replicate to; `cgroups` directories to run it in.
   */
  async startSidecar(dir, arm, { logLevel = 'info', server = this.sshd, cgroups = [] } = {}) {
    const spec = typeof arm === 'string' ? ARMS[arm] : arm;
    let s;
    if (spec.tool === 'walship') {
      const addrPort = await freePort();
      const cfg = path.join(dir, 'walship.yml');
      await writeWalshipConfig(cfg, { dbPath: this.dbOf(dir), replica: this.replicaFor(dir, server), syncInterval: spec.syncInterval, addrPort, extra: spec.extra });
      s = new Walship(this.dist, cfg, addrPort, { logLevel, cgroups });
    } else if (spec.tool === 'litestream') {
      const cfg = path.join(dir, 'litestream.yml');
      await writeLitestreamConfig(cfg, { dbPath: this.dbOf(dir), replica: this.replicaFor(dir, server), monitorInterval: spec.monitorInterval, syncInterval: spec.syncInterval });
      s = new Litestream(this.litestreamBin, cfg, { cgroups });
    } else {
      throw new Error(`no sidecar for ${JSON.stringify(spec)}`);
    }
    this.cleanups.push(() => s.running && s.proc.kill('SIGKILL'));
    await s.start();
    return s;
  }

  /**
   * Starts lib/watch-l0.mjs on a directory (a separate process, so its timestamps do not wait on
   * this one's event loop); with `keepDir`, each new file is hard-linked there. stop() ends it and
   * returns its { name, t } records.
   */
  async startWatcher(dir, maxMs, keepDir = null) {
    await fsp.mkdir(dir, { recursive: true });
    if (keepDir) await fsp.mkdir(keepDir, { recursive: true });
    const args = [path.join(HERE, 'lib', 'watch-l0.mjs'), dir, String(maxMs), ...(keepDir ? [keepDir] : [])];
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    this.cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    const records = [];
    let ready = false;
    onLines(child.stdout, (line) => {
      if (line === 'ready') ready = true;
      else if (line.startsWith('{')) records.push(JSON.parse(line));
    });
    if (!(await waitFor(() => ready || child.exitCode !== null, 10_000, 20)) || !ready) throw new Error(`watcher on ${dir} did not start`);
    return {
      records,
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
        }
        return records;
      },
    };
  }

  sftpBatch(batch, timeoutMs = 600_000, server = this.sshd) {
    return runCmd('sftp', [...server.sftpArgs(), '-b', '-', `${server.user}@${server.host}`], { input: batch, timeoutMs });
  }

  /** Time of an sftp session that connects, authenticates and does nothing (median of 3). */
  async sftpConnectMs() {
    const times = [];
    for (let i = 0; i < 3; i++) {
      const r = await this.sftpBatch('pwd\n', 30_000);
      if (r.code !== 0) throw new Error(`sftp connect failed: ${r.stderr}`);
      times.push(r.ms);
    }
    return percentile(times, 50);
  }

  async writeRandomFile(file, bytes) {
    const fh = await fsp.open(file, 'w');
    try {
      for (let off = 0; off < bytes; off += 8 * MB) await fh.write(randomBytes(Math.min(8 * MB, bytes - off)));
    } finally {
      await fh.close();
    }
  }
}
