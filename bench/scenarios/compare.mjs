// The side-by-side comparison: the same writer at the same rate, the same sshd, a fresh database
// per round, for each setting in ARMS (no sidecar, walship 0s and 1s, Litestream default and
// fast), the rounds interleaved (the order reversed every other round, so no setting always runs
// first). Lag and commit latency percentiles pool every round's transactions; CPU seconds, files
// and peak RSS are the median over rounds.
import { ARMS } from '../context.mjs';
import { lagSummary } from '../lib/lagcalc.mjs';
import { median, percentile, round } from '../lib/stats.mjs';
import { lagRound } from './round.mjs';

export async function compareScenario(b, { rounds, rate, durationMs, arms = Object.keys(ARMS) }) {
  b.log(`compare: ${arms.length} settings x ${rounds} rounds, ${rate} tx/s, ${durationMs / 1000}s each`);
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) perRound.push(await lagRound(b, { name: `compare-${r}-${arm}`, arm, rate, durationMs }));
  }
  const byArm = {};
  for (const arm of arms) {
    const rs = perRound.filter((x) => x.arm === arm);
    const latency = rs.flatMap((x) => x.latencySamples);
    const agg = {
      label: ARMS[arm].label,
      tool: ARMS[arm].tool,
      rounds: rs.length,
      commitLatencyMs: { p50: round(percentile(latency, 50), 3), p99: round(percentile(latency, 99), 3) },
    };
    if (ARMS[arm].tool !== 'none') {
      const missing = rs.reduce((a, x) => a + x.unshipped, 0);
      Object.assign(agg, {
        transactions: rs.reduce((a, x) => a + x.transactions, 0),
        unshipped: missing,
        lagMs: lagSummary(
          rs.flatMap((x) => x.lagSamples),
          missing,
        ),
        cpuS: round(median(rs.map((x) => x.cpuS)), 3),
        l0Files: median(rs.map((x) => x.l0Files)),
        txPerFile: round(median(rs.map((x) => x.txPerFile)), 2),
        peakRssMb: round(median(rs.map((x) => x.peakRssMb)), 1),
        captureLagMs: rs[0].captureLagMs,
        shipLagMs: rs[0].shipLagMs,
      });
    }
    byArm[arm] = agg;
  }
  return { rate, durationMs, rounds, arms: byArm, perRound };
}
