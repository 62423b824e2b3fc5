// The results: the headline figures (the last JSON line), their goals, and the readable tables.
import { ratio } from './lib/stats.mjs';
import { requestsHeadline, requestsTables } from './lib/requests-report.mjs';

const MB = 1024 * 1024;

export const GOALS = {
  lag_p99_ms: { le: 250 },
  lag_p99_ms_vs_litestream_fast: { le: 0.5 },
  cpu_ratio_default: { le: 1.0 },
  cpu_ratio_fast: { le: 2.0 },
  files_ratio_default: { le: 1.0 },
  rss_ratio: { le: 1.5 },
  sidecar_rss_mb: { le: 100 },
  bulk_rss_mb: { le: 128 },
  write_p99_ratio: { le: 1.1 },
  commit_p99_ratio: { le: 1.1 },
  throughput_ratio: { ge: 0.8 },
  bulk_time_ratio_vs_litestream: { le: 1.0 },
  restore_time_ratio_vs_litestream: { le: 1.0 },
  restore_ratio: { le: 1.5 },
  idle_cpu_s_per_min: { le: 0.1 },
  idle_requests_per_hour: { le: 0 },
  limited_lag_p99_ms: { le: 2000 },
  limited_kept_up: { eq: true },
};

const maxOf = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
};

/** The headline figures from the results; null where a scenario did not run. */
export function headline(results) {
  const arms = results.compare?.arms ?? {};
  const wf = arms['walship-fast'];
  const wd = arms['walship-default'];
  const lf = arms['litestream-fast'];
  const ld = arms['litestream-default'];
  const none = arms.none;
  const bw = results.bulk?.walship;
  const bl = results.bulk?.litestream;
  const rw = results.restore?.byTool.walship;
  const rl = results.restore?.byTool.litestream;
  const walshipRss = [wf?.peakRssMb, wd?.peakRssMb, ...(results.lag?.scenarios ?? []).map((s) => s.peakRssMb)];
  return {
    lag_p50_ms: wf?.lagMs.p50 ?? null,
    lag_p99_ms: wf?.lagMs.p99 ?? null,
    lag_p99_ms_vs_litestream_fast: ratio(wf?.lagMs.p99, lf?.lagMs.p99),
    cpu_ratio_default: ratio(wd?.cpuS, ld?.cpuS),
    cpu_ratio_fast: ratio(wf?.cpuS, lf?.cpuS),
    files_ratio_default: ratio(wd?.l0Files, ld?.l0Files),
    rss_ratio: ratio(maxOf([wf?.peakRssMb, wd?.peakRssMb]), maxOf([lf?.peakRssMb, ld?.peakRssMb])),
    sidecar_rss_mb: maxOf([...walshipRss, bw?.peakRssMb]),
    bulk_rss_mb: bw?.peakRssMb ?? null,
    write_p99_ratio: ratio(wf?.commitLatencyMs.p99, none?.commitLatencyMs.p99),
    commit_p99_ratio: ratio(wd?.commitLatencyMs.p99, none?.commitLatencyMs.p99),
    throughput_ratio: ratio(bw?.walshipMBs, results.bulk?.raw?.mbPerS),
    bulk_time_ratio_vs_litestream: ratio(bw?.endToEndMs, bl?.endToEndMs),
    restore_time_ratio_vs_litestream: ratio(rw?.ms, rl?.ms),
    restore_ratio: ratio(rw?.ms, results.restore?.raw?.getMs),
    // Not a goal: the same restore without its closing quick_check, to show what the check costs.
    restore_ratio_integrity_check_none: ratio(rw?.noCheckMs, results.restore?.raw?.getMs),
    idle_cpu_s_per_min: results.idle?.walship?.cpuSPerMin ?? null,
    idle_requests_per_hour: results.idle?.walship?.requestsPerHour ?? null,
    idle_requests_after_writes: results.idle?.walship?.afterWrites?.requests ?? null,
    limited_lag_p99_ms: results.limited?.measured ? results.limited.lagMs.p99 : null,
    limited_kept_up: results.limited?.measured ? results.limited.keptUp : null,
    ...requestsHeadline(results),
    many_dbs_n: results.manyDbs?.n ?? null,
    many_dbs_idle_cpu_s_per_min: results.manyDbs?.cpuSPerMin ?? null,
    many_dbs_rss_mb: results.manyDbs?.rssMb ?? null,
    many_dbs_requests_per_hour: results.manyDbs?.requestsPerHour ?? null,
    many_dbs_connections: results.manyDbs?.connections ?? null,
    many_dbs_startup_ms: results.manyDbs?.startupMs ?? null,
    many_dbs_pickup_ms: results.manyDbs?.pickupMs ?? null,
  };
}

export function goalsMet(h) {
  const out = {};
  for (const [k, g] of Object.entries(GOALS)) {
    const v = h[k];
    if ('eq' in g) out[k] = v === null || v === undefined ? null : v === g.eq;
    else if (!Number.isFinite(v)) out[k] = null;
    else out[k] = 'le' in g ? v <= g.le : v >= g.ge;
  }
  return out;
}

const goalText = (g) => ('le' in g ? `<= ${g.le}` : 'ge' in g ? `>= ${g.ge}` : `= ${g.eq}`);
const f = (x, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n');
}

function compareTable(c) {
  const order = ['none', 'walship-fast', 'walship-default', 'litestream-default', 'litestream-fast'].filter((k) => c.arms[k]);
  const a = (k) => c.arms[k];
  const col = (fn) => order.map((k) => (a(k).tool === 'none' ? '' : fn(a(k))));
  const r2 = (x, y, d = 2) => f(ratio(x, y), d);
  const wd = a('walship-default');
  const ld = a('litestream-default');
  const wf = a('walship-fast');
  const lf = a('litestream-fast');
  const both = (fn, d = 2) => [wd && ld ? r2(fn(wd), fn(ld), d) : 'n/a', wf && lf ? r2(fn(wf), fn(lf), d) : 'n/a'];
  return table([
    ['', ...order.map((k) => a(k).label), 'walship 1s / LS default', 'walship 0s / LS fast'],
    ['lag p50 / p99 ms', ...col((x) => `${f(x.lagMs.p50)} / ${f(x.lagMs.p99)}`), ...both((x) => x.lagMs.p99)],
    ['lag max ms', ...col((x) => f(x.lagMs.max)), '', ''],
    ['sidecar CPU s', ...col((x) => f(x.cpuS, 2)), ...both((x) => x.cpuS)],
    ['level-0 files', ...col((x) => x.l0Files), ...both((x) => x.l0Files)],
    ['tx per file', ...col((x) => f(x.txPerFile, 1)), '', ''],
    ['peak RSS MB (VmHWM)', ...col((x) => f(x.peakRssMb)), ...both((x) => x.peakRssMb)],
    ['app commit p50 / p99 ms', ...order.map((k) => `${f(a(k).commitLatencyMs.p50, 3)} / ${f(a(k).commitLatencyMs.p99, 3)}`), ...both((x) => x.commitLatencyMs.p99)],
    ['unshipped', ...col((x) => x.unshipped), '', ''],
  ]);
}

export function renderTables(results, h, met) {
  const L = [''];
  L.push(`walship bench (${results.mode}, ${results.replica} replica) — ${results.machine}`);
  if (results.compare) {
    const c = results.compare;
    L.push('', `Side by side: ${c.rate} tx/s, ${c.durationMs / 1000} s, ${c.rounds} interleaved round(s); lag = commit -> LTX renamed on the replica; CPU = sidecar process tree, first commit -> last on the replica`);
    L.push(compareTable(c));
  }
  if (results.lag?.scenarios.length) {
    L.push('', 'walship lag at other rates and settings');
    L.push(
      table([
        ['rate tx/s', 'achieved', 'sync', 'tx', 'files', 'p50 ms', 'p99 ms', 'max ms', 'capture p50/p99', 'ship p50/p99', 'p99 by fifth', 'unshipped', 'cpu s', 'RSS MB'],
        ...results.lag.scenarios.map((s) => [
          s.rate, s.achievedRate, s.syncInterval, s.transactions, s.l0Files, f(s.lagMs.p50), f(s.lagMs.p99), f(s.lagMs.max),
          s.captureLagMs ? `${f(s.captureLagMs.p50)}/${f(s.captureLagMs.p99)}` : 'n/a', s.shipLagMs ? `${f(s.shipLagMs.p50)}/${f(s.shipLagMs.p99)}` : 'n/a',
          s.lagP99ByFifthMs.join('/'), s.unshipped, f(s.cpuS, 2), f(s.peakRssMb),
        ]),
      ]),
    );
  }
  if (results.bulk) {
    const bk = results.bulk;
    const rows = [['', 'MB', 'on replica s', 'MB/s', 'CPU s', 'peak RSS MB', 'level-0 files', 'level-1 compaction on replica']];
    const l1 = (v) => (v === null ? 'not waited for' : v ? 'yes' : 'not within the bound');
    for (const t of ['walship', 'litestream']) {
      const x = bk[t];
      if (x) rows.push([t, f(x.endToEndBytes / MB), f(x.endToEndMs / 1000, 2), f(x.endToEndMBs), f(x.cpuS, 2), f(x.peakRssMb), x.l0Files, l1(x.level1CompactionShipped)]);
    }
    const blank = ['', '', '', ''];
    if (bk.walship?.walshipMBs) rows.push(['walship upload busy time', f(bk.walship.bytesShipped / MB), f(bk.walship.uploadBusyMs / 1000, 2), f(bk.walship.walshipMBs), ...blank]);
    if (bk.raw) rows.push(['raw sftp put -f', f(bk.raw.bytes / MB), f((bk.raw.putMs - bk.raw.connectMs) / 1000, 2), f(bk.raw.mbPerS), ...blank]);
    L.push('', `Bulk load ${f((bk.walship ?? bk.litestream).bytesInserted / MB, 0)} MB (first bulk commit -> level-0 file with the final transaction on the replica)`);
    L.push(table(rows));
  }
  if (results.restore) {
    const r = results.restore;
    const rows = [['', 'seconds', 'matches source']];
    for (const t of ['walship', 'litestream']) if (r.byTool[t]) rows.push([`${t} restore`, f(r.byTool[t].ms / 1000, 2), r.byTool[t].matchesSource]);
    if (r.byTool.walship?.noCheckMs != null) rows.push(['walship restore -integrity-check none', f(r.byTool.walship.noCheckMs / 1000, 2), '']);
    if (r.raw) rows.push([`raw sftp get -f (${f(r.raw.bytes / MB)} MB)`, f(r.raw.getMs / 1000, 2), '']);
    L.push('', 'Restore of the bulk-loaded replica (a new process each)');
    L.push(table(rows));
  }
  if (results.idle) {
    const rows = [['idle', 'window s', 'SFTP requests', 'per hour', 'CPU s per min', 'requests after the writes (until level 1 shipped)']];
    for (const t of ['walship', 'litestream']) {
      const i = results.idle[t];
      if (i) rows.push([`${t} (${i.arm})`, f(i.idleMs / 1000), `${i.requests} ${JSON.stringify(i.requestsByType)}`, i.requestsPerHour, f(i.cpuSPerMin, 3), i.afterWrites ? `${i.afterWrites.requests} in ${f(i.afterWrites.windowMs / 1000)} s` : 'n/a']);
    }
    L.push('', 'Idle (requests counted by the audit sftp-server)');
    L.push(table(rows));
  }
  if (results.limited) {
    const l = results.limited;
    L.push('');
    if (!l.measured) L.push(`Under the seed's limits: not measured (${l.reason})`);
    else {
      L.push(`Under the seed's limits (cgroup ${l.cgroup}: ${l.limits.cpu} CPU, ${l.limits.memoryMiB} MiB), walship 1s at ${l.rate} tx/s for ${l.durationMs / 1000} s`);
      L.push(`  lag p50 ${f(l.lagMs.p50)} / p99 ${f(l.lagMs.p99)} / max ${f(l.lagMs.max)} ms, p99 by fifth ${l.lagP99ByFifthMs.join('/')}, last commit on the replica ${f(l.tailAfterWriterMs)} ms after the writer, unshipped ${l.unshipped}, kept up: ${l.keptUp}`);
      L.push(`  CPU ${f(l.cpuS, 2)} s in ${f(l.cpuWindowS, 1)} s, throttled in ${l.throttling.nr_throttled ?? 'n/a'} of ${l.throttling.nr_periods ?? 'n/a'} periods, memory limit hit ${l.memoryLimitHits ?? 'n/a'} times, peak RSS ${f(l.peakRssMb)} MB`);
    }
  }
  if (results.naive) {
    const n = results.naive;
    L.push('', `Naive baseline on a ${f(n.dbBytes / MB, 0)} MB database: sqlite3 .backup + sftp put every ${n.intervalS} s`);
    L.push(`  .backup under 100 tx/s: ${n.underLoad.completed ? `${n.underLoad.ms} ms` : `never finished within ${n.underLoad.timeoutMs / 1000} s`}; idle cycle ${f(n.cycleMs / 1000, 2)} s (backup ${f(n.backupMs / 1000, 2)} s + put ${f(n.putMs / 1000, 2)} s)`);
    L.push(`  worst-case data loss ${n.recoveryPointWorstS} s, ${f(n.bytesPerHour / MB, 0)} MB sent per hour; walship at 100 tx/s, 0s: lag p99 ${f((h.lag_p99_ms ?? NaN) / 1000, 3)} s`);
  }
  L.push(...requestsTables(results, table));
  L.push('', 'Goals');
  L.push(table([['figure', 'value', 'goal', 'met'], ...Object.entries(GOALS).map(([k, g]) => [k, h[k] ?? 'n/a', goalText(g), met[k] === null ? 'n/a' : met[k] ? 'yes' : 'NO'])]));
  L.push(`elapsed ${results.elapsedS} s`);
  return L.join('\n');
}

/** The last line of stdout: one JSON object. */
export function jsonLine(results, h, met) {
  return JSON.stringify({ mode: results.mode, replica: results.replica, ...h, goals_met: met });
}

