// Lag from what the writer committed and what reached the replica (pure: no I/O).
// `files`: the level-0 files the round uploaded, each { minTXID, t (renamed on the replica),
// stagedAt (or null), max (highest transaction marker in its pages) }. A transaction is on the
// replica when the first file (in TXID order, which is upload order) whose highest marker is at or
// past it has been renamed, and every earlier file too (a restore needs the whole chain).
import { percentile, round, summarize } from './stats.mjs';

export function lagOf(writer, files) {
  const sorted = [...files].sort((a, b) => a.minTXID - b.minTXID);
  let covered = 0;
  let durableAt = 0;
  const reach = []; // [highest marker so far, time it became restorable, the file]
  for (const f of sorted) {
    durableAt = Math.max(durableAt, f.t);
    covered = Math.max(covered, f.max);
    reach.push([covered, durableAt, f]);
  }
  const lags = [];
  const captureLags = []; // commit -> LTX file renamed into the sidecar's local staging
  const shipLags = []; // staged -> renamed on the replica
  let missing = 0;
  let j = 0;
  for (let i = 0; i < writer.n.length; i++) {
    const n = writer.n[i];
    while (j < reach.length && reach[j][0] < n) j++;
    if (j >= reach.length) {
      missing++;
      continue;
    }
    lags.push(reach[j][1] - writer.commitAt[i]);
    const f = reach[j][2];
    if (f.stagedAt !== null && f.stagedAt !== undefined) {
      captureLags.push(f.stagedAt - writer.commitAt[i]);
      shipLags.push(reach[j][1] - f.stagedAt);
    }
  }
  return { lags, captureLags, shipLags, missing, lastDurableAt: durableAt };
}

/** p99 per fifth of the run, to show drift. */
export function p99ByFifth(lags) {
  const out = [];
  const per = Math.ceil(lags.length / 5);
  for (let k = 0; k < 5 && k * per < lags.length; k++) out.push(round(percentile(lags.slice(k * per, (k + 1) * per), 99), 1));
  return out;
}

/** Lag percentiles; an unshipped transaction counts as infinite lag. */
export function lagSummary(lags, missing) {
  const s = summarize(missing > 0 ? [...lags, ...Array(missing).fill(Number.POSITIVE_INFINITY)] : lags);
  return { p50: round(s.p50, 1), p90: round(s.p90, 1), p99: round(s.p99, 1), max: round(s.max, 1), mean: round(s.mean, 1) };
}

export const splitSummary = (v) => (v.length ? { p50: round(percentile(v, 50), 1), p99: round(percentile(v, 99), 1) } : null);
