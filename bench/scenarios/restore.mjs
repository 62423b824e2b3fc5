// Restore of each bulk-loaded replica by the tool that wrote it (a new process: start, connect,
// list, download, apply, check), the restored database compared with the source; and a raw
// `sftp get -f` of as many bytes as walship's restore plan reads, as the floor.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { parseName } from '../lib/ltxscan.mjs';
import { MB, round, runCmd } from '../lib/stats.mjs';
import { walshipNodeArgs } from '../lib/walship.mjs';

const SAME_QUERY = 'SELECT count(*), coalesce(sum(length(data)),0) FROM bulk; SELECT max(n) FROM tx;';

/** The files walship's own planner (dist/restore/plan.js) picks from the replica's listing. */
async function walshipPlan(b, dir) {
  const { planRestore } = await import(path.join(b.dist, 'restore', 'plan.js'));
  const listing = new Map();
  for (const level of [9, 3, 2, 1, 0]) {
    const ld = path.join(dir, 'replica', 'ltx', String(level));
    const files = [];
    for (const name of await fsp.readdir(ld).catch(() => [])) {
      const r = parseName(name);
      if (!r) continue;
      const st = await fsp.stat(path.join(ld, name));
      files.push({ level, ...r, size: st.size, createdAt: st.mtime });
    }
    listing.set(level, files);
  }
  return planRestore(listing, {});
}

/**
 * Restores the bulk scenario's replica with the tool that wrote it; returns its time and whether it
 * matches. `flags` go before the database path (walship only).
 */
export async function restoreWith(b, bulk, flags = []) {
  const { dir, db, tool } = bulk;
  const out = path.join(dir, 'restored.db');
  await fsp.rm(out, { force: true });
  const [cmd, args] =
    tool === 'walship'
      ? [process.execPath, [...walshipNodeArgs(b.dist), 'restore', '-config', path.join(dir, 'walship.yml'), '-o', out, ...flags, db]]
      : [b.litestreamBin, ['restore', '-config', path.join(dir, 'litestream.yml'), '-o', out, db]];
  const r = await runCmd(cmd, args, { timeoutMs: 1_800_000 });
  if (r.code !== 0) throw new Error(`${tool} restore failed (exit ${r.code}): ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
  const [src, dst] = await Promise.all([runCmd('sqlite3', [db, SAME_QUERY], { timeoutMs: 120_000 }), runCmd('sqlite3', [out, SAME_QUERY], { timeoutMs: 120_000 })]);
  const matches = src.code === 0 && src.stdout === dst.stdout;
  const outputBytes = (await fsp.stat(out)).size;
  await fsp.rm(out, { force: true });
  b.log(`  ${tool} restore${flags.length ? ` ${flags.join(' ')}` : ''}: ${(r.ms / 1000).toFixed(2)} s, output ${(outputBytes / MB).toFixed(1)} MB, matches source: ${matches}`);
  return { tool, ms: round(r.ms, 1), outputBytes, matchesSource: matches };
}

export async function restoreScenario(b, bulks) {
  b.log('restore: each tool restores its own bulk-loaded replica; raw sftp get of the same bytes');
  const byTool = {};
  for (const bulk of bulks) byTool[bulk.tool] = await restoreWith(b, bulk);
  const w = bulks.find((x) => x.tool === 'walship');
  let raw = null;
  let plan = null;
  if (w) {
    // The default restore ends with SQLite's quick_check of the whole file; this run without it
    // shows what the check costs (the figures and the ratio keep the default).
    const unchecked = await restoreWith(b, w, ['-integrity-check', 'none']);
    byTool.walship.noCheckMs = unchecked.ms;
    plan = await walshipPlan(b, w.dir);
    byTool.walship.files = plan.length;
    byTool.walship.bytesRead = plan.reduce((a, f) => a + f.size, 0);
  }
  if (w && b.replicaType === 'sftp') {
    const bytes = byTool.walship.bytesRead;
    const remote = path.join(w.dir, 'raw', 'raw-get.bin');
    await fsp.mkdir(path.dirname(remote), { recursive: true });
    await b.writeRandomFile(remote, bytes);
    const local = path.join(w.dir, 'raw-get.local');
    const times = [];
    for (let i = 0; i < 2; i++) {
      await fsp.rm(local, { force: true });
      const g = await b.sftpBatch(`get -f ${remote} ${local}\n`);
      if (g.code !== 0) throw new Error(`sftp get failed: ${g.stderr}`);
      times.push(g.ms);
    }
    await fsp.rm(local, { force: true });
    await fsp.rm(remote, { force: true });
    const getMs = times.reduce((a, x) => a + x, 0) / times.length;
    raw = { bytes, getMs: round(getMs, 1), getMsEach: times.map((t) => round(t, 1)), mbPerS: round(bytes / MB / (getMs / 1000), 1) };
    b.log(`  raw sftp get: mean ${(getMs / 1000).toFixed(2)} s`);
  }
  return { byTool, raw };
}
