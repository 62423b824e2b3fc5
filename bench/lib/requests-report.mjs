// The request-cost figures (S3 requests per hour by type, an idle follower's requests per hour):
// their headline keys and their tables, for report.mjs.
import { REQUEST_TYPES } from './versitygw.mjs';

/** Headline keys: walship's per-hour counts by type at each rate, Litestream's, and the ratios of the totals. */
export function requestsHeadline(results) {
  const s = results.s3Requests;
  const fo = results.follower;
  return {
    s3_requests_per_hour_1tpm: s?.slow.walship?.perHour ?? null,
    s3_requests_per_hour_100tps: s?.fast.walship?.perHour ?? null,
    litestream_s3_requests_per_hour_1tpm: s?.slow.litestream?.perHour ?? null,
    litestream_s3_requests_per_hour_100tps: s?.fast.litestream?.perHour ?? null,
    s3_requests_ratio_1tpm: s?.ratio1tpm ?? null,
    s3_requests_ratio_100tps: s?.ratio100tps ?? null,
    follower_requests_per_hour_sftp: fo?.sftp?.requestsPerHour ?? null,
    follower_requests_per_hour_s3: fo?.s3?.requestsPerHour ?? null,
  };
}

/** Table lines (for `table` from report.mjs). */
export function requestsTables(results, table) {
  const L = [];
  const s = results.s3Requests;
  if (s) {
    const rows = [['S3 requests per hour', ...REQUEST_TYPES, 'total', 'counted', 'window s']];
    for (const [label, side] of [[`1 tx/min`, s.slow], [`${s.fastRate} tx/s`, s.fast]]) {
      for (const t of ['walship', 'litestream']) {
        const x = side[t];
        if (x) rows.push([`${label} ${t}`, ...REQUEST_TYPES.map((k) => x.perHour[k]), x.totalPerHour, x.total, Math.round(x.windowMs / 1000)]);
      }
    }
    L.push('', `S3 requests by type, counted in ${s.server}'s access log, scaled to an hour (1 tx/min: ${s.slowMs / 1000} s window; ${s.fastRate} tx/s: the writer's ${s.fastMs / 1000} s)`);
    L.push(table(rows));
    L.push(`  walship / Litestream, total: ${s.ratio1tpm ?? 'n/a'} at 1 tx/min, ${s.ratio100tps ?? 'n/a'} at ${s.fastRate} tx/s`);
  }
  const fo = results.follower;
  if (fo) {
    const rows = [['idle follower (restore -f, 1s)', 'window s', 'requests', 'per hour', 'by type']];
    for (const k of ['sftp', 's3']) {
      const x = fo[k];
      if (x) rows.push([k, Math.round(x.windowMs / 1000), x.requests, x.requestsPerHour, JSON.stringify(x.requestsByType)]);
    }
    L.push('', 'Idle follower, requests counted at the server');
    L.push(table(rows));
  }
  return L;
}
