// A cgroup that holds one sidecar to the seed's limits: 0.2 CPU (a quota of 20 ms per 100 ms) and
// 256 MiB of memory. cgroup v2 (cpu.max "20000 100000", memory.max) when /sys/fs/cgroup is a
// writable unified hierarchy with the cpu and memory controllers; otherwise cgroup v1, the same
// limits in its terms (cpu.cfs_quota_us 20000 / cpu.cfs_period_us 100000 in the cpu hierarchy,
// memory.limit_in_bytes in the memory hierarchy, under this process's own memory cgroup). null,
// with the reason, when neither can be made here.
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';

async function tryWrite(file, value) {
  await fsp.writeFile(file, value);
}

async function makeV2(name, limits) {
  const controllers = readFileSync(path.join(ROOT, 'cgroup.controllers'), 'utf8').split(/\s+/);
  if (!controllers.includes('cpu') || !controllers.includes('memory')) throw new Error(`cgroup v2 without cpu and memory controllers (${controllers.join(' ')})`);
  await tryWrite(path.join(ROOT, 'cgroup.subtree_control'), '+cpu +memory').catch(() => undefined);
  const dir = path.join(ROOT, name);
  await fsp.mkdir(dir);
  await tryWrite(path.join(dir, 'cpu.max'), `${limits.cpuQuotaUs} ${limits.cpuPeriodUs}`);
  await tryWrite(path.join(dir, 'memory.max'), String(limits.memoryBytes));
  if (existsSync(path.join(dir, 'memory.swap.max'))) await tryWrite(path.join(dir, 'memory.swap.max'), '0').catch(() => undefined);
  return { kind: 'v2', dirs: [dir], cpuStat: path.join(dir, 'cpu.stat') };
}

function ownV1Path(controller) {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, list, p] = line.split(':');
    if (list?.split(',').includes(controller)) return p;
  }
  return '/';
}

async function makeV1(name, limits) {
  const cpu = path.join(ROOT, 'cpu', ownV1Path('cpu'), name);
  const mem = path.join(ROOT, 'memory', ownV1Path('memory'), name);
  await fsp.mkdir(cpu);
  try {
    await tryWrite(path.join(cpu, 'cpu.cfs_period_us'), String(limits.cpuPeriodUs));
    await tryWrite(path.join(cpu, 'cpu.cfs_quota_us'), String(limits.cpuQuotaUs));
    await fsp.mkdir(mem);
    await tryWrite(path.join(mem, 'memory.limit_in_bytes'), String(limits.memoryBytes));
    // No swap beyond the limit either, where the kernel accounts for it.
    if (existsSync(path.join(mem, 'memory.memsw.limit_in_bytes'))) await tryWrite(path.join(mem, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes)).catch(() => undefined);
  } catch (err) {
    await fsp.rmdir(mem).catch(() => undefined);
    await fsp.rmdir(cpu).catch(() => undefined);
    throw err;
  }
  return { kind: 'v1', dirs: [cpu, mem], cpuStat: path.join(cpu, 'cpu.stat'), memDir: mem };
}

/** Makes the cgroup; returns { kind, dirs, limits, throttling(), memoryFailures(), remove() } or { error }. */
export async function makeLimitedCgroup(name, limits = { cpuQuotaUs: 20_000, cpuPeriodUs: 100_000, memoryBytes: 256 * 1024 * 1024 }) {
  const errors = [];
  let cg = null;
  if (existsSync(path.join(ROOT, 'cgroup.controllers'))) cg = await makeV2(name, limits).catch((e) => (errors.push(`v2: ${e.message}`), null));
  if (!cg && existsSync(path.join(ROOT, 'cpu')) && existsSync(path.join(ROOT, 'memory'))) cg = await makeV1(name, limits).catch((e) => (errors.push(`v1: ${e.message}`), null));
  if (!cg) return { error: errors.join('; ') || 'no cgroup hierarchy with cpu and memory here' };
  return {
    ...cg,
    limits,
    /** nr_periods, nr_throttled and throttled time from cpu.stat. */
    throttling() {
      const out = {};
      for (const line of readFileSync(cg.cpuStat, 'utf8').split('\n')) {
        const [k, v] = line.split(' ');
        if (k) out[k] = Number(v);
      }
      return out;
    },
    /** How often the memory limit was hit (v1 memory.failcnt, v2 memory.events max), or null. */
    memoryLimitHits() {
      try {
        if (cg.kind === 'v1') return Number(readFileSync(path.join(cg.memDir, 'memory.failcnt'), 'utf8'));
        return Number(/^max (\d+)/m.exec(readFileSync(path.join(cg.dirs[0], 'memory.events'), 'utf8'))?.[1] ?? 0);
      } catch {
        return null;
      }
    },
    async remove() {
      for (const d of [...cg.dirs].reverse()) await fsp.rmdir(d).catch(() => undefined);
    },
  };
}
