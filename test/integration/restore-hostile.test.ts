// Restore refuses files whose checksum is valid but whose contents are hostile: each case exits
// non-zero with one line naming the file, and leaves nothing at the output path.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ltxFiles } from '../helpers/files.js';
import { emptyLtx, patchHeader } from '../helpers/ltx-craft.js';
import { checkRestored } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, walshipBin } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir;
let lastTxid = 0;
const hex = (n: number): string => n.toString(16).padStart(16, '0');

beforeAll(async () => {
  work = makeWorkdir();
  const walship = startWalship(['replicate', '-config', work.config]);
  await runWriter('node', { db: work.db, from: 1, to: 20, payload: 'small', delayMs: 20 });
  expect(await walship.stop()).toBe(0);
  const l0 = ltxFiles(work.replica, 0);
  lastTxid = Number.parseInt(path.basename(l0.at(-1)!).slice(17, 33), 16);
  // The untouched replica restores: the cases below fail only because of what they add.
  const out = path.join(work.dir, 'good.db');
  const r = await runWalship(['restore', '-o', out, `file://${work.replica}`]);
  expect(r.stderr).toBe('');
  expect(checkRestored(out, 'small').k).toBe(20);
}, 120_000);

afterAll(() => work?.cleanup());

/** A copy of the good replica (or an empty one) with `files` added, keyed by their replica path. */
function replicaWith(files: Record<string, Buffer>, base: 'good' | 'empty' = 'good'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-hostile-'));
  const root = path.join(dir, 'replica');
  if (base === 'good') cpSync(work.replica, root, { recursive: true });
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), data);
  }
  return root;
}

function expectRefused(r: { code: number | null; stderr: string }, out: string, file: string, reason: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(file);
  expect(lines[0]).toMatch(reason);
  expect(existsSync(out), 'output path').toBe(false);
  expect(existsSync(`${out}.tmp`), 'temporary output').toBe(false);
}

describe('restore refuses hostile files', () => {
  it('a snapshot with commit size 0', async () => {
    const name = `ltx/9/${hex(1)}-${hex(1)}.ltx`;
    const root = replicaWith({ [name]: await emptyLtx(1, 1, 0) }, 'empty');
    const out = path.join(path.dirname(root), 'out.db');
    expectRefused(await runWalship(['restore', '-o', out, `file://${root}`]), out, name, /commit size 0/);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  it('a level-0 file from TXID 1 with commit size 0', async () => {
    const name = `ltx/0/${hex(1)}-${hex(1)}.ltx`;
    const root = replicaWith({ [name]: await emptyLtx(1, 1, 0) }, 'empty');
    const out = path.join(path.dirname(root), 'out.db');
    expectRefused(await runWalship(['restore', '-o', out, `file://${root}`]), out, name, /commit size 0/);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  it('an incremental file whose commit size is 2147483647 pages (an 8.8 TB sparse database)', async () => {
    const last = readFileSync(ltxFiles(work.replica, 0).at(-1)!);
    const n = lastTxid + 1;
    const name = `ltx/0/${hex(n)}-${hex(n)}.ltx`;
    const root = replicaWith({ [name]: await patchHeader(last, { minTXID: n, maxTXID: n, commit: 2147483647 }) });
    const out = path.join(path.dirname(root), 'out.db');
    expectRefused(await runWalship(['restore', '-o', out, `file://${root}`]), out, name, /grows the database from \d+ to 2147483647 pages but lacks page/);
    rmSync(path.dirname(root), { recursive: true, force: true });
  });

  it('a 2 GiB sparse level-0 file is refused without reading it into memory', async () => {
    const last = readFileSync(ltxFiles(work.replica, 0).at(-1)!);
    const n = lastTxid + 1;
    const name = `ltx/0/${hex(n)}-${hex(n)}.ltx`;
    const root = replicaWith({ [name]: await patchHeader(last, { minTXID: n, maxTXID: n }) });
    truncateSync(path.join(root, name), 2 * 1024 * 1024 * 1024);
    const out = path.join(path.dirname(root), 'out.db');
    // Python waits for the restore and reports its peak RSS; the restore's stderr passes through.
    const script = 'import json,resource,subprocess,sys\nr=subprocess.run(sys.argv[1:])\nprint(json.dumps({"code":r.returncode,"maxrss":resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))';
    const run = spawnSync('python3', ['-c', script, process.execPath, walshipBin, 'restore', '-o', out, `file://${root}`], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) throw new Error(`python3 wrapper failed (${run.status}): ${run.stderr}`);
    const { code, maxrss } = JSON.parse(run.stdout) as { code: number; maxrss: number };
    expectRefused({ code, stderr: run.stderr }, out, name, /data after the trailer/);
    const peakMiB = maxrss / 1024;
    expect(peakMiB, 'peak RSS of the restore, MiB').toBeLessThan(300);
    rmSync(path.dirname(root), { recursive: true, force: true });
  }, 180_000);
});
