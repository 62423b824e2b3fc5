// walship under the seed's limits (0.2 CPU, 256 MiB, in a cgroup the bench makes: lib/cgroup.mjs)
// at 100 tx/s and sync-interval 1s: the lag it keeps, and whether it kept up. It kept up when every
// transaction reached the replica, the last one within 3 s (2 s + the sync interval) of the
// writer's end, the lag did not grow over the run (the last fifth's p99 at most 1.5 x the first
// fifth's + 500 ms), and walship was neither killed nor exited with an error.
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
    const fifths = r.lagP99ByFifthMs;
    const lagGrew = fifths.length >= 2 && fifths.at(-1) > 1.5 * fifths[0] + 500;
    const tailOk = r.tailAfterWriterMs !== null && r.tailAfterWriterMs <= 3000;
    const keptUp = r.caughtUp && r.unshipped === 0 && tailOk && !lagGrew && !r.killedForMemory && r.exitCode === 0;
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
