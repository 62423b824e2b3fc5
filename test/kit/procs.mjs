// Process trees from /proc, signals to a whole tree, CPU and memory of a process, and the list of
// children a test or the bench started (ended with this process, and reported to any hook that
// wants to know, such as the bench's watchdog).
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after "(comm)" (comm may hold spaces and parentheses), or null. */
function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

export function parentOf(pid) {
  const f = statFields(pid);
  return f ? Number(f[1]) : null;
}

/** True once the process is gone or a zombie. */
export function isGone(pid) {
  const f = statFields(pid);
  return f === null || f[0] === 'Z';
}

/** Every process under `root` (not `root` itself), breadth first. sshd's per-connection children call setsid, so a process group would miss them. */
export function descendants(root) {
  const kids = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentOf(Number(name));
    if (ppid === null) continue;
    const list = kids.get(ppid) ?? [];
    list.push(Number(name));
    kids.set(ppid, list);
  }
  const out = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10_000) {
    for (const c of kids.get(queue.shift()) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Sends a signal to each process; one already gone is skipped. */
export function signalAll(pids, signal) {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone meanwhile
    }
  }
}

/** SIGSTOPs the processes and returns the function that lets them run again. */
export function stopUntilResumed(pids) {
  signalAll(pids, 'SIGSTOP');
  return () => signalAll(pids, 'SIGCONT');
}

const TICKS_PER_S = 100; // USER_HZ on Linux

/**
 * CPU seconds (user + system) of `root` and every process under it, from /proc/PID/stat: utime +
 * stime of each live process, plus cutime + cstime of the root (children it has already reaped).
 * null when `root` is gone.
 */
export function cpuSecondsOfTree(root) {
  const f = statFields(root);
  if (!f) return null;
  // After "(comm)": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14.
  let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  for (const p of descendants(root)) {
    const g = statFields(p);
    if (g) ticks += Number(g[11]) + Number(g[12]);
  }
  return ticks / TICKS_PER_S;
}

/** kB figures from /proc/PID/status: VmRSS (now) and VmHWM (the kernel's peak mark), or null. */
export function memOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return null;
  }
}

// Children still running when this process exits (a failed test, a crashed bench) are killed with it.
const running = new Set();
const hooks = [];
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Registers a child: killed when this process exits, and announced to every `onTrack` hook. */
export function track(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
  for (const h of hooks) h(child);
  return child;
}

/** Calls `hook(child)` for every child tracked from now on. */
export function onTrack(hook) {
  hooks.push(hook);
}

/** Calls `fn(line)` for each complete line a child's output stream delivers. */
export function onLines(stream, fn) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    const parts = buf.split('\n');
    buf = parts.pop();
    for (const line of parts) fn(line);
  });
}
