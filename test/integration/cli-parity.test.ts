// Litestream 0.5's command-line surface, with walship and writers as real processes and real
// replicas: replicate -once and -force-snapshot, restore -dry-run, -json and -parallelism, and
// reset (refused while a replicator holds the lock).
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatTXID } from '../../src/ltx/format.js';
import type { LtxFileInfo } from '../../src/replica/client.js';
import { FileReplicaClient } from '../../src/replica/file.js';
import { listReplica } from '../../src/replica/listing.js';
import { applyPlan } from '../../src/restore/apply.js';
import { planRestore } from '../../src/restore/plan.js';
import { listTree, ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship } from '../helpers/processes.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
afterEach(() => {
  work?.cleanup();
  work = null;
});

const maxTxid = (files: string[]): number => Math.max(0, ...files.map((f) => Number.parseInt(path.basename(f).slice(17, 33), 16)));

async function restoreExact(w: Workdir, name: string, k: number, extra: string[] = []): Promise<string> {
  const out = path.join(w.dir, name);
  const r = await runWalship(['restore', ...extra, '-o', out, `file://${w.replica}`]);
  expect(r.code, r.stderr).toBe(0);
  expect(checkRestored(out, 'small').k).toBe(k);
  expect(dump(out)).toBe(dump(w.db));
  return out;
}

interface DryRun {
  source: string;
  target_path: string;
  replica: string;
  min_txid: string;
  max_txid: string;
  total_size: number;
  target_exists: boolean;
  files: Array<{ level: number; name: string; min_txid: string; max_txid: string; size: number; timestamp: string }>;
}

describe('replicate -once', () => {
  it('captures and ships everything committed, then exits 0; again after more commits', async () => {
    work = makeWorkdir();
    const { db, config } = work;
    await runWriter('python', { db, from: 1, to: 30, payload: 'small' });
    const first = await runWalship(['replicate', '-once', '-config', config]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('"event":"once_complete","shipped":true');
    await restoreExact(work, 'once1.db', 30);

    await runWriter('node', { db, from: 31, to: 50, payload: 'small' });
    expect((await runWalship(['replicate', '-once', '-config', config])).code).toBe(0);
    await restoreExact(work, 'once2.db', 50);
  });

  it('exits 1 when a replica cannot take the files, and keeps them in staging', async () => {
    work = makeWorkdir('shutdown-sync-timeout: 1s\n');
    const { db, config, replica } = work;
    await runWriter('python', { db, from: 1, to: 10, payload: 'small' });
    writeFileSync(replica, 'blocked');
    const r = await runWalship(['replicate', '-once', '-config', config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('"event":"once_complete","shipped":false');
    expect(ltxFiles(path.join(path.dirname(db), '.app.db-walship'), 0).length).toBeGreaterThan(0);
  });

  it('refuses -force-snapshot without -once, and -once with -exec, as Litestream does', async () => {
    work = makeWorkdir();
    const a = await runWalship(['replicate', '-force-snapshot', '-config', work.config]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('-force-snapshot needs -once');
    const b = await runWalship(['replicate', '-once', '-exec', 'true', '-config', work.config]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('-once cannot be used with -exec');
  });
});

describe('replicate -once -force-snapshot', () => {
  it('adds a snapshot at the current TXID; plain -once does not', async () => {
    work = makeWorkdir();
    const { db, config, replica } = work;
    await runWriter('python', { db, from: 1, to: 20, payload: 'small' });
    expect((await runWalship(['replicate', '-once', '-config', config])).code).toBe(0);
    const snaps1 = ltxFiles(replica, 9);
    expect(snaps1.length).toBe(1); // the replica's first snapshot

    await runWriter('python', { db, from: 21, to: 30, payload: 'small' });
    expect((await runWalship(['replicate', '-once', '-config', config])).code).toBe(0);
    expect(ltxFiles(replica, 9)).toEqual(snaps1);

    await runWriter('python', { db, from: 31, to: 40, payload: 'small' });
    const forced = await runWalship(['replicate', '-once', '-force-snapshot', '-config', config]);
    expect(forced.code, forced.stderr).toBe(0);
    const snaps3 = ltxFiles(replica, 9);
    expect(snaps3.length).toBe(2);
    expect(maxTxid(snaps3)).toBe(maxTxid(ltxFiles(replica, 0)));
    // A restore now needs that one snapshot and nothing else.
    const plan = JSON.parse((await runWalship(['restore', '-dry-run', '-json', '-o', path.join(work.dir, 'x.db'), `file://${replica}`])).stdout) as DryRun;
    expect(plan.files.map((f) => f.level)).toEqual([9]);
    await restoreExact(work, 'snap.db', 40);
  });
});

describe('restore -dry-run, -json', () => {
  it('prints the plan (replica, files, sizes, TXIDs) as text or JSON and writes nothing; -json prints the result', async () => {
    work = makeWorkdir();
    const { db, config, replica, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 25, payload: 'small', delayMs: 150 });
    expect(await walship.stop()).toBe(0);
    const out = path.join(dir, 'out.db');
    const before = listTree(dir);

    const json = await runWalship(['restore', '-dry-run', '-json', '-o', out, `file://${replica}`]);
    expect(json.code, json.stderr).toBe(0);
    const plan = JSON.parse(json.stdout) as DryRun;
    const all = [0, 1, 2, 3, 9].flatMap((l) => ltxFiles(replica, l));
    const top = maxTxid(all);
    expect(plan).toMatchObject({ source: `file://${replica}`, target_path: out, replica: 'file', min_txid: formatTXID(1), max_txid: formatTXID(top), target_exists: false });
    expect(plan.files.length).toBeGreaterThan(2);
    for (const f of plan.files) {
      const file = path.join(replica, 'ltx', String(f.level), f.name);
      expect(statSync(file).size).toBe(f.size);
      expect(f.name).toBe(`${f.min_txid}-${f.max_txid}.ltx`);
    }
    expect(plan.total_size).toBe(plan.files.reduce((n, f) => n + f.size, 0));
    // Contiguous from TXID 1 to the top.
    plan.files.reduce((reached, f) => {
      expect(Number.parseInt(f.min_txid, 16)).toBeLessThanOrEqual(reached + 1);
      return Number.parseInt(f.max_txid, 16);
    }, 0);

    const text = await runWalship(['restore', '-dry-run', '-o', out, `file://${replica}`]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('restore plan (dry run: nothing written)');
    expect(text.stdout).toContain(`txid range: ${formatTXID(1)} - ${formatTXID(top)}`);
    for (const f of plan.files) expect(text.stdout).toMatch(new RegExp(`${f.level}\\s+${f.name}\\s+${f.min_txid}\\s+${f.max_txid}\\s+${f.size}\\s`));
    expect(listTree(dir)).toEqual(before); // nothing written anywhere

    // Over an existing database: the plan says a restore would refuse, and the file is untouched.
    const dbBytes = readFileSync(db);
    const over = JSON.parse((await runWalship(['restore', '-dry-run', '-json', '-config', config, db])).stdout) as DryRun;
    expect(over.target_exists).toBe(true);
    expect(readFileSync(db).equals(dbBytes)).toBe(true);

    const real = await runWalship(['restore', '-json', '-o', out, `file://${replica}`]);
    expect(real.code, real.stderr).toBe(0);
    const result = JSON.parse(real.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ db_path: out, replica: 'file', txid: formatTXID(top), files: plan.files.length, integrity_check: 'quick' });
    expect(real.stderr).toContain('"event":"restored"'); // logs go to stderr with -json
    expect(checkRestored(out, 'small').k).toBe(25);
    expect(dump(out)).toBe(dump(db));

    const skipped = await runWalship(['restore', '-json', '-if-db-not-exists', '-o', out, `file://${replica}`]);
    expect(JSON.parse(skipped.stdout)).toEqual({ db_path: out, skipped: 'database-exists' });
  });
});

describe('restore -parallelism', () => {
  it('restores exactly with 1 and with 16 files at once, and rejects 0', async () => {
    work = makeWorkdir();
    const { db, config } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 20, payload: 'small', delayMs: 30 });
    expect(await walship.stop()).toBe(0);
    await restoreExact(work, 'p1.db', 20, ['-parallelism', '1']);
    await restoreExact(work, 'p16.db', 20, ['-parallelism=16']);
    const bad = await runWalship(['restore', '-parallelism', '0', '-o', path.join(work.dir, 'p0.db'), `file://${work.replica}`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-parallelism "0"');
  });

  it('downloads at most N files at once, and N when the plan has that many', async () => {
    work = makeWorkdir();
    const { db, config, replica, dir } = work;
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('node', { db, from: 1, to: 20, payload: 'small', delayMs: 150 });
    expect(await walship.stop()).toBe(0);

    // The real file client, counting reads in flight.
    const client = new FileReplicaClient(replica);
    let inFlight = 0;
    let peak = 0;
    const read = client.readLtxFile.bind(client);
    client.readLtxFile = async (f: LtxFileInfo): Promise<Buffer> => {
      peak = Math.max(peak, ++inFlight);
      try {
        return await read(f);
      } finally {
        inFlight--;
      }
    };
    // Level 0 alone: one file per capture, from TXID 1.
    const plan = planRestore(new Map([[0, (await listReplica(client)).get(0) ?? []]]));
    expect(plan.length).toBeGreaterThanOrEqual(6);
    for (const n of [1, 3, 6]) {
      peak = 0;
      const out = path.join(dir, `par-${n}.db`);
      await applyPlan(client, plan, out, 'quick', { parallelism: n });
      expect(peak).toBe(n);
      expect(checkRestored(out, 'small').k).toBe(20);
    }
  });
});

describe('reset', () => {
  it('refuses while a replicator runs; drops staging so the next start captures afresh and continues the TXIDs', async () => {
    work = makeWorkdir();
    const { db, config, replica } = work;
    const staging = path.join(path.dirname(db), '.app.db-walship');
    const walship = startWalship(['replicate', '-config', config]);
    await walship.waitForEvent('started');
    await runWriter('python', { db, from: 1, to: 20, payload: 'small', delayMs: 10 });
    const refused = await runWalship(['reset', db]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already being replicated by pid \d+/);
    expect(await walship.stop()).toBe(0);
    const topBefore = maxTxid(ltxFiles(replica, 0));

    const stagedBefore = listTree(staging);
    const dry = await runWalship(['reset', '-dry-run', db]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('clean-stop.json');
    expect(dry.stdout).toMatch(/ltx\/0\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx/);
    expect(listTree(staging)).toEqual(stagedBefore);

    const reset = await runWalship(['reset', '-config', config, db]);
    expect(reset.code, reset.stderr).toBe(0);
    // The owner identity stays (a promoted primary stays the owner of its replica).
    expect(readdirSync(staging).sort()).toEqual(['fence.json', 'replicator.lock']);

    await runWriter('python', { db, from: 21, to: 30, payload: 'small' });
    const next = await runWalship(['replicate', '-once', '-config', config]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('"reason":"first capture of this database"');
    const l0 = ltxFiles(replica, 0);
    const fresh = l0.filter((f) => Number.parseInt(path.basename(f).slice(0, 16), 16) > topBefore);
    expect(fresh.length).toBeGreaterThan(0);
    expect(Number.parseInt(path.basename(fresh[0]!).slice(0, 16), 16)).toBe(topBefore + 1);
    await restoreExact(work, 'after-reset.db', 30);

    expect(existsSync(path.join(work.dir, '.nothing.db-walship'))).toBe(false);
    const none = await runWalship(['reset', path.join(work.dir, 'nothing.db')]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('no local state to reset');
  });
});
