// The naive baseline: what people run today, `sqlite3 DB ".backup tmp"` then `sftp put` of tmp
// every N seconds, on the database the walship bulk load made (or a small one).
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { runLoadWriter } from '../../test/kit/writer.mjs';
import { sleep } from '../../test/kit/wait.mjs';
import { MB, now, round, runCmd } from '../lib/stats.mjs';

export async function naiveScenario(b, bulk, { intervalS, underLoadTimeoutMs, cycles }) {
  b.log(`naive baseline: sqlite3 .backup + sftp put -f every ${intervalS}s, on the ${bulk ? 'bulk-loaded' : 'small'} database`);
  const dir = bulk?.dir ?? (await b.scenarioDir('naive'));
  const db = b.dbOf(dir);
  if (!bulk) await runLoadWriter({ db, mode: 'init', warmup: 100, from: 1 }, 30_000);
  const dbBytes = (await fsp.stat(db)).size;
  const copy = path.join(dir, 'naive-backup.db');
  const remoteDir = path.join(dir, 'naive-replica');
  await fsp.mkdir(remoteDir, { recursive: true });

  // 1. Under 100 tx/s of writes, as it would run beside the application.
  await fsp.rm(copy, { force: true });
  const writer = runLoadWriter({ db, mode: 'rate', rate: 100, durationMs: underLoadTimeoutMs + 2000, from: 50_000_001 }, underLoadTimeoutMs + 60_000);
  await sleep(500);
  const underLoad = await runCmd('sqlite3', [db, `.backup ${copy}`], { timeoutMs: underLoadTimeoutMs });
  await writer;
  const underLoadResult = { completed: !underLoad.timedOut && underLoad.code === 0, ms: round(underLoad.ms, 0), timeoutMs: underLoadTimeoutMs };
  b.log(`  .backup under 100 tx/s: ${underLoadResult.completed ? `done in ${underLoadResult.ms} ms` : `did not finish in ${underLoadTimeoutMs / 1000} s (the backup restarts whenever another connection writes)`}`);

  // 2. Best case: the database idle during the backup.
  const runs = [];
  for (let c = 0; c < cycles; c++) {
    await fsp.rm(copy, { force: true });
    const bk = await runCmd('sqlite3', [db, `.backup ${copy}`], { timeoutMs: 600_000 });
    if (bk.code !== 0) throw new Error(`sqlite3 .backup failed: ${bk.stderr}`);
    let putMs;
    if (b.replicaType === 'sftp') {
      const p = await b.sftpBatch(`put -f ${copy} ${remoteDir}/app.db\n`);
      if (p.code !== 0) throw new Error(`sftp put failed: ${p.stderr}`);
      putMs = p.ms;
    } else {
      const t = now();
      await fsp.copyFile(copy, path.join(remoteDir, 'app.db'));
      putMs = now() - t;
    }
    runs.push({ backupMs: bk.ms, putMs });
  }
  await fsp.rm(copy, { force: true });
  const cycleMs = Math.max(...runs.map((r) => r.backupMs + r.putMs));
  const res = {
    intervalS,
    dbBytes,
    underLoad: underLoadResult,
    backupMs: round(Math.max(...runs.map((r) => r.backupMs)), 0),
    putMs: round(Math.max(...runs.map((r) => r.putMs)), 0),
    cycleMs: round(cycleMs, 0),
    // A commit just after a backup started is only off the machine when the next one is uploaded.
    recoveryPointWorstS: round(intervalS + cycleMs / 1000, 1),
    bytesPerHour: Math.round((dbBytes * 3600) / intervalS),
  };
  b.log(`  cycle ${(cycleMs / 1000).toFixed(2)} s on ${(dbBytes / MB).toFixed(0)} MB: worst-case loss window ${res.recoveryPointWorstS} s, ${(res.bytesPerHour / MB).toFixed(0)} MB/h`);
  return res;
}
