// walship under the seed's limits (0.2 CPU, 256 MiB, in a cgroup the bench makes: lib/cgroup.mjs)
// at 100 tx/s and sync-interval 1s: the lag it keeps, and whether it kept up. It kept up when every
// transaction reached the replica and the last one did so within 2 s of its commit.
import { makeLimitedCgroup } from '../lib/cgroup.mjs';
import { lagRound } from './round.mjs';

export async function limitedScenario(b, { rate, durationMs }) {
  b.log(`limited: walship at 0.2 CPU and 256 MiB, ${rate} tx/s, sync-interval 1s, ${durationMs / 1000}s`);
  const cg = await makeLimitedCgroup(`walship-bench-${process.pid}`);
  if (cg.error) {
    b.log(`  no cgroup could be made: ${cg.error}`);
    return { measured: false, reason: cg.error };
  }
  b.cleanups.push(() => cg.remove());
  for (const d of cg.dirs) b.watchdog?.stdin.write(`rmdir ${d}\n`);
  try {
    const r = await lagRound(b, { name: 'limited', arm: 'walship-default', rate, durationMs, cgroups: cg.dirs, catchUpMs: 60_000 });
    const keptUp = r.caughtUp && r.unshipped === 0 && r.tailAfterWriterMs !== null && r.tailAfterWriterMs <= 2000 && !r.killedForMemory;
    return {
      measured: true,
      cgroup: cg.kind,
      limits: { cpu: cg.limits.cpuQuotaUs / cg.limits.cpuPeriodUs, memoryMiB: cg.limits.memoryBytes / 1024 / 1024 },
      keptUp,
      throttling: cg.throttling(),
      memoryLimitHits: cg.memoryLimitHits(),
      ...r,
    };
  } finally {
    await cg.remove();
  }
}
