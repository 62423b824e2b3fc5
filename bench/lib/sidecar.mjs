// A replication sidecar (walship or Litestream) as a separate process, measured from outside:
// memory from /proc/PID/status every 100 ms (VmRSS; VmHWM, the kernel's peak mark), CPU seconds of
// its whole process tree from /proc/PID/stat (utime + stime), its output lines kept (bounded).
// With `cgroups` (directories), the process joins them before it execs, so its limits hold from
// its first instruction.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { cpuSecondsOfTree, memOf, onLines, track } from '../../test/kit/procs.mjs';
import { now } from './stats.mjs';

/** The machine is shared: a sidecar past this RSS is killed, and the run says so. */
const RSS_LIMIT_KB = Math.min(8 * 1024 * 1024, Math.floor(os.totalmem() / 1024 / 3));
const MAX_LINES = 500_000;

// Joins each cgroup in $WSB_CGROUPS (":"-separated) and execs the command.
const JOIN_CGROUPS = 'IFS=:; for d in $WSB_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 97; done; unset IFS WSB_CGROUPS; exec "$@"';

export class Sidecar {
  /** Output lines (stdout and stderr), each { t, line, stream }. */
  lines = [];
  peakRssKb = 0;
  peakHwmKb = 0;
  lastCpuS = 0;
  exitCode = null;
  killedForMemory = false;
  /** [ms since start, VmRSS kB], one sample a second. */
  rssTimeline = [];

  constructor(name, command, args, { env = process.env, cgroups = [] } = {}) {
    this.name = name;
    this.command = command;
    this.args = args;
    this.env = env;
    this.cgroups = cgroups;
  }

  /** Spawns the process; `onLine(line, t, stream)` sees each output line as it arrives. */
  spawn(onLine = () => undefined) {
    const [cmd, args, env] = this.cgroups.length
      ? ['sh', ['-c', JOIN_CGROUPS, 'sh', this.command, ...this.args], { ...this.env, WSB_CGROUPS: this.cgroups.join(':') }]
      : [this.command, this.args, this.env];
    this.proc = track(spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
    this.pid = this.proc.pid;
    for (const stream of ['stdout', 'stderr']) {
      onLines(this.proc[stream], (line) => {
        const t = now();
        if (this.lines.length < MAX_LINES) this.lines.push({ t, line, stream });
        onLine(line, t, stream);
      });
    }
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve((this.exitCode = code ?? signal))));
    this.startedAt = now();
    this.sampler = setInterval(() => this.sample(), 100);
  }

  get running() {
    return this.exitCode === null;
  }

  tail(n = 20) {
    return this.lines
      .slice(-n)
      .map((l) => l.line)
      .join('\n');
  }

  /** CPU seconds the process tree has used so far (the last reading once it is gone). */
  cpuSeconds() {
    const c = cpuSecondsOfTree(this.pid);
    if (c !== null) this.lastCpuS = c;
    return this.lastCpuS;
  }

  sample() {
    const m = memOf(this.pid);
    if (!m) return;
    this.cpuSeconds();
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

  /** SIGTERM, then waits (bounded) for the graceful exit; SIGKILL past `timeoutMs`. */
  async stop(timeoutMs = 120_000) {
    this.sample();
    clearInterval(this.sampler);
    const cpuS = this.cpuSeconds();
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
      cpuS,
      peakRssMb: this.peakRssKb / 1024,
      peakHwmMb: this.peakHwmKb / 1024,
      rssMbTimeline: this.rssTimeline.map(([t, kb]) => [Math.round(t / 1000), Math.round(kb / 102.4) / 10]),
    };
  }
}
