// S3 requests per hour by type (issue 14's "costs matter"), walship and Litestream side by side on
// one versitygw (real S3 server on 127.0.0.1), each with its own bucket, database and load writer,
// counted at the server from its access log (one line per request, naming bucket and operation).
//
// Two rates, each tool at its defaults (sync-interval 1s; Litestream monitor and sync 1 s):
// - 1 tx/min: both tools at once (they idle between transactions, so they do not disturb each
//   other), for a bounded window (3 minutes quick, 10 full), scaled to an hour. Hourly work (the
//   level-3 compaction, retention) does not fall in such a window: the figure says so.
// - 100 tx/s: one tool after the other, for a short window (10 s quick, 30 s full), counted until
//   the server has been quiet for 2 s after the writer stopped, scaled to an hour of that load.
// Before each window the sidecar has uploaded its first snapshot and gone quiet, so start-up
// listings are not counted.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/kit/ports.mjs';
import { runLoadWriter } from '../../test/kit/writer.mjs';
import { sleep } from '../../test/kit/wait.mjs';
import { Litestream } from '../lib/litestream.mjs';
import { now, ratio, round } from '../lib/stats.mjs';
import { countByType, REQUEST_TYPES, Versitygw } from '../lib/versitygw.mjs';
import { Walship } from '../lib/walship.mjs';
import { ROOT } from '../context.mjs';

const BUCKETS = { walship: 'walship-bench', litestream: 'litestream-bench' };
const PREFIX = 'app.db';

/** A walship config with one S3 replica at its defaults (keys from the environment). */
async function walshipS3Config(file, { dbPath, gw, addrPort, bucket }) {
  const lines = [
    `addr: 127.0.0.1:${addrPort}`,
    'dbs:',
    `  - path: ${dbPath}`,
    '    replicas:',
    `      - url: s3://${bucket}/${PREFIX}`,
    `        endpoint: ${gw.endpoint}`,
    '        region: us-east-1',
    '        force-path-style: true',
  ];
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}

/** A Litestream v0.5 config with one S3 replica at its defaults, as its docs give for S3-compatible servers. */
async function litestreamS3Config(file, { dbPath, gw, bucket }) {
  const lines = ['dbs:', `  - path: ${dbPath}`, '    replica:', '      type: s3', `      bucket: ${bucket}`, `      path: ${PREFIX}`, `      endpoint: ${gw.endpoint}`, '      region: us-east-1', '      force-path-style: true'];
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}

/** Starts `tool` on the database in `dir`, replicating to its own bucket on `gw`. */
export async function startS3Sidecar(b, gw, tool, dir, { bucket = BUCKETS[tool] } = {}) {
  const dbPath = b.dbOf(dir);
  let s;
  if (tool === 'walship') {
    const addrPort = await freePort();
    const cfg = path.join(dir, 'walship.yml');
    await walshipS3Config(cfg, { dbPath, gw, addrPort, bucket });
    s = new Walship(b.dist, cfg, addrPort);
    s.env = { ...gw.env(), LOG_LEVEL: 'info' };
    s.configPath = cfg;
  } else {
    const cfg = path.join(dir, 'litestream.yml');
    await litestreamS3Config(cfg, { dbPath, gw, bucket });
    s = new Litestream(b.litestreamBin, cfg);
    s.env = gw.env();
  }
  b.cleanups.push(() => s.running && s.proc.kill('SIGKILL'));
  await s.start();
  return s;
}

/** Waits until `bucket` has had no request for `quietMs` (bounded by `maxMs`); returns whether it went quiet. */
export async function bucketQuiet(gw, bucket, { quietMs = 2_000, maxMs = 60_000 } = {}) {
  const start = await gw.mark();
  const deadline = Date.now() + maxMs;
  let seen = 0;
  let lastChange = Date.now();
  while (Date.now() < deadline) {
    const n = countByType(await gw.linesSince(start), bucket).total;
    if (n !== seen) {
      seen = n;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= quietMs) {
      return true;
    }
    await sleep(200);
  }
  return false;
}

const perHour = (counts, windowMs) => Object.fromEntries(REQUEST_TYPES.map((t) => [t, round((counts.byType[t] * 3_600_000) / windowMs, 0)]));

/** A fresh database with 20 rows, its sidecar started and quiet after its first upload. */
async function prepared(b, gw, tool, name) {
  const dir = await b.scenarioDir(`s3-${name}-${tool}`);
  await runLoadWriter({ db: b.dbOf(dir), mode: 'init', warmup: 20, from: 1 }, 30_000);
  const s = await startS3Sidecar(b, gw, tool, dir);
  if (!(await bucketQuiet(gw, BUCKETS[tool], { quietMs: 3_000, maxMs: 60_000 }))) throw new Error(`s3 requests (${tool}): the first upload did not settle:\n${s.tail(30)}`);
  return { dir, s };
}

function summary(tool, counts, windowMs, extra = {}) {
  if (counts.byType.PUT + counts.byType.multipart === 0) throw new Error(`s3 requests (${tool}): nothing was uploaded in the window`);
  return {
    tool,
    windowMs: round(windowMs, 0),
    requests: counts.byType,
    byOperation: counts.byOperation,
    total: counts.total,
    perHour: perHour(counts, windowMs),
    totalPerHour: round((counts.total * 3_600_000) / windowMs, 0),
    ...extra,
  };
}

export async function s3RequestsScenario(b, { slowMs, fastMs, fastRate = 100 }) {
  const dir = await b.scenarioDir('s3-server');
  const gw = await Versitygw.start(ROOT, dir, Object.values(BUCKETS));
  b.cleanups.push(() => gw.stop());
  const out = { server: 'versitygw', slow: {}, fast: {}, slowMs, fastMs, fastRate };
  try {
    // 1 tx/min, both tools at once.
    b.log(`s3 requests: 1 tx/min for ${slowMs / 1000}s, walship and Litestream at once, each on its own bucket`);
    const sides = {};
    for (const tool of ['walship', 'litestream']) sides[tool] = await prepared(b, gw, tool, 'slow');
    const mark = await gw.mark();
    const t0 = now();
    const writers = Object.entries(sides).map(([, { dir }]) => runLoadWriter({ db: b.dbOf(dir), mode: 'rate', rate: 1 / 60, durationMs: slowMs, from: 21 }, slowMs + 60_000));
    const results = await Promise.all(writers);
    // The writer exits right after its last transaction; the window runs its whole length.
    await sleep(Math.max(0, slowMs - (now() - t0)));
    const windowMs = now() - t0;
    const lines = await gw.linesSince(mark);
    for (const tool of Object.keys(sides)) {
      const stop = await sides[tool].s.stop(30_000);
      out.slow[tool] = summary(tool, countByType(lines, BUCKETS[tool]), windowMs, { transactions: results[0].n.length, exitCode: stop.exitCode });
      b.log(`  1 tx/min ${tool}: ${out.slow[tool].total} requests in ${(windowMs / 1000).toFixed(0)} s -> ${JSON.stringify(out.slow[tool].perHour)} per hour`);
    }
    // 100 tx/s, one tool after the other.
    for (const tool of ['walship', 'litestream']) {
      b.log(`s3 requests: ${fastRate} tx/s for ${fastMs / 1000}s, ${tool}`);
      const { dir, s } = await prepared(b, gw, tool, 'fast');
      const m = await gw.mark();
      const wr = await runLoadWriter({ db: b.dbOf(dir), mode: 'rate', rate: fastRate, durationMs: fastMs, from: 21 }, fastMs + 60_000);
      const quiet = await bucketQuiet(gw, BUCKETS[tool], { quietMs: 2_000, maxMs: 30_000 });
      const counts = countByType(await gw.linesSince(m), BUCKETS[tool]);
      const stop = await s.stop(30_000);
      // Scaled by the writer's span: the requests after it ended belong to its transactions.
      const span = wr.endedAt - wr.startedAt;
      out.fast[tool] = summary(tool, counts, span, { transactions: wr.n.length, settled: quiet, exitCode: stop.exitCode });
      b.log(`  ${fastRate} tx/s ${tool}: ${counts.total} requests for ${wr.n.length} transactions -> ${JSON.stringify(out.fast[tool].perHour)} per hour`);
    }
  } finally {
    await gw.stop();
  }
  out.ratio1tpm = ratio(out.slow.walship?.totalPerHour, out.slow.litestream?.totalPerHour);
  out.ratio100tps = ratio(out.fast.walship?.totalPerHour, out.fast.litestream?.totalPerHour);
  return out;
}
