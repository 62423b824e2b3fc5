#!/usr/bin/env node
// walship benchmarks, walship beside Litestream in the same run: `npm run bench` (full run, about
// 15 minutes on 2 cores) or `npm run bench -- --quick` (the same comparison, shorter: about 4
// minutes). Prints tables; the LAST line of stdout is one JSON object with the headline figures.
// The full run also writes bench/results/<date>.json and <date>.svg. How each figure is measured:
// bench/README.md. The scenarios are in scenarios/, the tables and goals in report.mjs.
//
// Flags: --quick, --keep (leave the temporary directory),
// --only=compare,lag,bulk,idle,limited,naive,s3,follower,many-dbs (bulk includes restore),
// --many-dbs=N[:IDLE_SECONDS] (the many-dbs scenario's database count and idle window),
// --lag=RATE:SYNC:SECONDS,... (walship lag scenarios beside the comparison),
// --rounds=N and --seconds=S (the comparison's rounds and round length),
// --replica=file (develop against a file:// replica; the figures are only meaningful with sftp),
// --naive-interval=SECONDS (the baseline's backup period, default 60).
// With --only, --lag, --rounds or --seconds nothing is saved under results/.
import { mkdirSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bench, HERE, ROOT } from './context.mjs';
import { GOALS, goalsMet, headline, jsonLine, renderTables } from './report.mjs';
import { renderSvg } from './lib/svg.mjs';
import { MB, round } from './lib/stats.mjs';
import { bulkScenario, rawPut } from './scenarios/bulk.mjs';
import { compareScenario } from './scenarios/compare.mjs';
import { idleScenario } from './scenarios/idle.mjs';
import { limitedScenario } from './scenarios/limited.mjs';
import { naiveScenario } from './scenarios/naive.mjs';
import { restoreScenario } from './scenarios/restore.mjs';
import { followerScenario } from './scenarios/follower-requests.mjs';
import { s3RequestsScenario } from './scenarios/s3-requests.mjs';
import { manyDbsScenario } from './scenarios/many-dbs.mjs';
import { lagRound } from './scenarios/round.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const flagValue = (name, dflt) => flag(name)?.split('=')[1] ?? dflt;
const QUICK = !!flag('quick');
const ONLY = flag('only') ? new Set(flagValue('only', '').split(',')) : null;
const want = (phase) => !ONLY || ONLY.has(phase);
const LAG_OVERRIDE = flag('lag')
  ? flagValue('lag', '')
      .split(',')
      .map((spec) => {
        const [rate, syncInterval, seconds] = spec.split(':');
        return { rate: Number(rate), syncInterval: syncInterval ?? '0s', durationMs: Number(seconds ?? 20) * 1000 };
      })
  : null;

const P = QUICK
  ? {
      compare: { rounds: 1, rate: 100, durationMs: 8_000 },
      lag: [],
      bulk: { bytes: 100 * MB, txBytes: 4 * MB },
      idleMs: 15_000,
      limited: { rate: 100, durationMs: 10_000 },
      naive: { underLoadTimeoutMs: 5_000, cycles: 1 },
      s3: { slowMs: 120_000, fastMs: 10_000 },
      follower: { idleMs: 20_000 },
      manyDbs: { n: 200, idleMs: 20_000 },
    }
  : {
      compare: { rounds: 2, rate: 100, durationMs: 30_000 },
      lag: [
        { rate: 10, syncInterval: '0s', durationMs: 20_000 },
        { rate: 1000, syncInterval: '0s', durationMs: 20_000 },
      ],
      bulk: { bytes: 512 * MB, txBytes: 8 * MB },
      idleMs: 30_000,
      limited: { rate: 100, durationMs: 30_000 },
      naive: { underLoadTimeoutMs: 20_000, cycles: 2 },
      s3: { slowMs: 600_000, fastMs: 30_000 },
      follower: { idleMs: 60_000 },
      // Full: idle is measured once each database's first level-2 compaction (5 min) is on its replica.
      manyDbs: { n: 1000, idleMs: 60_000, settleLevel2Ms: 420_000 },
    };
if (flag('many-dbs')) {
  const [n, idleS] = flagValue('many-dbs', '1000').split(':');
  P.manyDbs.n = Number(n);
  if (idleS) P.manyDbs.idleMs = Number(idleS) * 1000;
}
if (flag('rounds')) P.compare.rounds = Number(flagValue('rounds', '1'));
if (flag('seconds')) P.compare.durationMs = Number(flagValue('seconds', '10')) * 1000;

const b = new Bench({ quick: QUICK, keep: !!flag('keep'), replicaType: flagValue('replica', 'sftp') });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    void b.cleanup().finally(() => process.exit(130));
  });
}

async function main() {
  const started = Date.now();
  await b.setup();
  b.log(`mode ${QUICK ? 'quick' : 'full'}, replica ${b.replicaType}, work dir ${b.base}`);
  const results = {
    mode: QUICK ? 'quick' : 'full',
    date: new Date().toISOString(),
    replica: b.replicaType,
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, node ${process.version}, ${os.release()}`,
    goals: GOALS,
  };

  if (want('compare')) results.compare = await compareScenario(b, P.compare);
  const lagSpecs = LAG_OVERRIDE ?? (want('lag') ? P.lag : []);
  if (lagSpecs.length) {
    results.lag = { scenarios: [] };
    for (const sc of lagSpecs) {
      const arm = { tool: 'walship', syncInterval: sc.syncInterval, label: `walship ${sc.syncInterval}` };
      results.lag.scenarios.push(await lagRound(b, { name: `lag-${sc.rate}tps-${sc.syncInterval}`, arm, rate: sc.rate, durationMs: sc.durationMs }));
    }
  }
  let walshipBulk = null;
  if (want('bulk')) {
    walshipBulk = await bulkScenario(b, { tool: 'walship', ...P.bulk });
    const lsBulk = await bulkScenario(b, { tool: 'litestream', ...P.bulk });
    const raw = b.replicaType === 'sftp' ? await rawPut(b, walshipBulk.dir, walshipBulk.result.bytesShipped || walshipBulk.result.endToEndBytes) : null;
    results.bulk = { walship: walshipBulk.result, litestream: lsBulk.result, raw };
    results.restore = await restoreScenario(b, [walshipBulk, lsBulk]);
  }
  if (want('idle') && b.audit) {
    results.idle = {};
    for (const tool of ['walship', 'litestream']) results.idle[tool] = await idleScenario(b, { tool, idleMs: P.idleMs, settle: !QUICK });
  }
  if (want('limited')) results.limited = await limitedScenario(b, P.limited);
  if (want('s3')) results.s3Requests = await s3RequestsScenario(b, P.s3);
  if (want('follower')) results.follower = await followerScenario(b, P.follower);
  if (want('many-dbs')) results.manyDbs = await manyDbsScenario(b, P.manyDbs);
  if (want('naive')) results.naive = await naiveScenario(b, walshipBulk, { intervalS: Number(flagValue('naive-interval', '60')), ...P.naive });

  const h = headline(results);
  const met = goalsMet(h);
  results.headline = h;
  results.goalsMet = met;
  results.elapsedS = round((Date.now() - started) / 1000, 0);
  process.stdout.write(`${renderTables(results, h, met)}\n`);

  if (!QUICK && !ONLY && !LAG_OVERRIDE && !flag('rounds') && !flag('seconds')) {
    const resDir = path.join(HERE, 'results');
    mkdirSync(resDir, { recursive: true });
    const stem = path.join(resDir, results.date.slice(0, 10));
    await fsp.writeFile(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
    await fsp.writeFile(`${stem}.svg`, renderSvg(results));
    process.stdout.write(`results: ${path.relative(ROOT, stem)}.json, ${path.relative(ROOT, stem)}.svg\n`);
  }
  // Every run's details, for a look after a quick or partial run.
  const last = path.join(os.tmpdir(), 'walship-bench-last.json');
  await fsp.writeFile(last, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`details: ${last}\n`);
  process.stdout.write(`${jsonLine(results, h, met)}\n`);
}

main()
  .then(() => b.cleanup())
  .then(() => {
    // Nothing should be left to wait for; if a stray timer is, do not let it hold the exit.
    setTimeout(() => process.exit(0), 2000).unref();
  })
  .catch(async (err) => {
    b.log(`FAILED: ${err?.stack ?? err}`);
    await b.cleanup();
    process.stdout.write(`${JSON.stringify({ error: String(err?.message ?? err).slice(0, 500) })}\n`);
    process.exit(1);
  });
