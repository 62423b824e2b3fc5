// The replica contract: the same behaviours over every backend in REPLICA_BACKENDS
// (test/helpers/replica-backends.ts), each against its real server. A backend added to that list
// runs all of this. Modelled on Litestream's RunWithReplicaClient tests.
import { promises as fsp } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ReplicaConflictError, ReplicaError, type ReplicaClient } from '../../src/replica/client.js';
import { describeFile, LEVELS, ltxFileName } from '../../src/replica/layout.js';
import { REPLICA_BACKENDS, type BackendHandle, type ContractClientOptions } from '../helpers/replica-backends.js';
import { errorOf, ltxFixture, tempDir, within } from '../helpers/sftp-fixtures.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe.each(REPLICA_BACKENDS)('replica contract: $name', (backend) => {
  let h: BackendHandle;
  let local: string;
  const clients: ReplicaClient[] = [];

  function client(root: string, opts?: ContractClientOptions): ReplicaClient {
    const c = h.client(root, opts);
    clients.push(c);
    return c;
  }

  /** The names a level holds on the storage: LTX files and anything else. */
  const names = (root: string, level: number): Promise<string[]> => h.rawNames(root, level);
  const nameOf = (info: { minTXID: number; maxTXID: number }): string => ltxFileName(info.minTXID, info.maxTXID);

  beforeAll(async () => {
    h = await backend.setup();
    local = await tempDir('contract-local');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close(5_000)));
  });

  afterAll(async () => {
    await h?.teardown();
    if (local) await fsp.rm(local, { recursive: true, force: true });
  });

  test('an empty replica lists nothing at any level', async () => {
    const c = client(h.newRoot());
    for (const level of LEVELS) expect(await c.listLtxFiles(level)).toEqual([]);
  });

  test('written files are listed by level, sorted by TXID range, with their size and createdAt', async () => {
    const root = h.newRoot();
    const c = client(root);
    const a = await ltxFixture(local, 0, 1, 1, 4096, new Date('2024-01-02T03:04:05Z'));
    const b = await ltxFixture(local, 0, 2, 5, 300_000, new Date('2024-01-02T03:04:06Z'));
    const d = await ltxFixture(local, 0, 6, 6, 1, new Date('2024-01-02T03:04:07Z'));
    const l1 = await ltxFixture(local, 1, 1, 6, 70_000, new Date('2024-01-02T03:04:30Z'));
    const snap = await ltxFixture(local, 9, 1, 5, 1_000_001, new Date('2024-01-02T03:05:00Z'));
    for (const f of [d, snap, b, l1, a]) await c.writeLtxFile(f.info, f.localPath);

    expect(await c.listLtxFiles(0)).toEqual([a.info, b.info, d.info]);
    expect(await c.listLtxFiles(1)).toEqual([l1.info]);
    expect(await c.listLtxFiles(9)).toEqual([snap.info]);
    for (const level of [2, 3]) expect(await c.listLtxFiles(level)).toEqual([]);
    // Another client sees the same: the listing is the storage's, not a cache.
    expect(await client(root).listLtxFiles(0)).toEqual([a.info, b.info, d.info]);
    for (const f of [a, b, d, l1, snap]) expect((await c.readLtxFile(f.info)).equals(f.data)).toBe(true);
    expect(await names(root, 0)).toEqual([a, b, d].map((f) => nameOf(f.info)));
  });

  test('an exclusive write refuses different contents under a taken name, accepts the same bytes again', async () => {
    const root = h.newRoot();
    const c = client(root);
    const ours = await ltxFixture(local, 0, 7, 7, 5000);
    await c.writeLtxFile(ours.info, ours.localPath, { exclusive: true });
    // The same bytes again: an earlier upload whose answer was lost.
    await c.writeLtxFile(ours.info, ours.localPath, { exclusive: true });
    const theirs = await ltxFixture(local, 0, 7, 7, 5000);
    const err = await errorOf(c.writeLtxFile(theirs.info, theirs.localPath, { exclusive: true }));
    expect(err).toBeInstanceOf(ReplicaConflictError);
    expect(err.message).toContain(c.location);
    expect(err.message).toContain(describeFile(ours.info, h.layout));
    expect((await c.readLtxFile(ours.info)).equals(ours.data)).toBe(true);
    expect(await names(root, 0)).toEqual([nameOf(ours.info)]);
    // Without exclusive, the name is replaced.
    await c.writeLtxFile(theirs.info, theirs.localPath);
    expect((await c.readLtxFile(theirs.info)).equals(theirs.data)).toBe(true);
    expect(await names(root, 0)).toEqual([nameOf(ours.info)]);
  });

  test('a large file streams back exactly, in chunks; a stream stopped early releases what it opened', async () => {
    const c = client(h.newRoot());
    const big = await ltxFixture(local, 9, 1, 1000, 12 * 1024 * 1024 + 12345);
    await c.writeLtxFile(big.info, big.localPath);
    const chunks: Buffer[] = [];
    for await (const chunk of c.streamLtxFile(big.info)) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(big.data)).toBe(true);
    for (let i = 0; i < 5; i++) {
      for await (const chunk of c.streamLtxFile(big.info)) {
        expect(chunk.equals(big.data.subarray(0, chunk.length))).toBe(true);
        break;
      }
    }
    expect((await c.readLtxFile(big.info)).equals(big.data)).toBe(true);
    const missing = await errorOf((async () => {
      for await (const _ of c.streamLtxFile({ level: 9, minTXID: 1, maxTXID: 999 })) void _;
    })());
    expect(missing).toBeInstanceOf(ReplicaError);
    expect(missing.message).toContain(describeFile({ level: 9, minTXID: 1, maxTXID: 999 }, h.layout));
  });

  test('delete removes exactly the files named; deleting what is gone is no error', async () => {
    const root = h.newRoot();
    const c = client(root);
    const files = await Promise.all([1, 2, 3, 4].map((i) => ltxFixture(local, 0, i, i, 100 * i)));
    for (const f of files) await c.writeLtxFile(f.info, f.localPath);
    await c.deleteLtxFiles([files[0]!.info, files[2]!.info]);
    await c.deleteLtxFiles([files[0]!.info]);
    await c.deleteLtxFiles([]);
    expect(await c.listLtxFiles(0)).toEqual([files[1]!.info, files[3]!.info]);
    expect(await names(root, 0)).toEqual([files[1]!, files[3]!].map((f) => nameOf(f.info)));
  });

  test('a reader never sees a partial file while large uploads run', async () => {
    const root = h.newRoot();
    const writer = client(root, { slowUploads: true });
    const reader = client(root);
    const size = 6 * 1024 * 1024;
    const files = await Promise.all([1, 2, 3].map((i) => ltxFixture(local, 0, i, i, size)));
    let done = false;
    const uploads = (async () => {
      try {
        for (const f of files) await writer.writeLtxFile(f.info, f.localPath);
      } finally {
        done = true;
      }
    })();
    const checked = new Set<number>();
    let listings = 0;
    const deadline = Date.now() + 120_000;
    for (let i = 0; i < 100_000 && !done && Date.now() < deadline; i++) {
      const listed = await reader.listLtxFiles(0);
      listings++;
      for (const f of listed) {
        expect(f.size).toBe(size);
        // The first time a name shows up, its bytes are already all there.
        if (!checked.has(f.maxTXID)) {
          checked.add(f.maxTXID);
          expect((await reader.readLtxFile(f)).equals(files[f.maxTXID - 1]!.data)).toBe(true);
        }
      }
    }
    await uploads;
    expect(listings).toBeGreaterThan(0);
    expect((await reader.listLtxFiles(0)).map((f) => f.maxTXID)).toEqual([1, 2, 3]);
    expect(await names(root, 0)).toEqual(files.map((f) => nameOf(f.info)));
  });

  test('close with uploads in flight is bounded; no partial file is visible, nothing is left behind, and later use works', async () => {
    const root = h.newRoot();
    const c = client(root, { slowUploads: true });
    const files = await Promise.all([1, 2, 3, 4].map((i) => ltxFixture(local, 0, i, i, 3 * 1024 * 1024)));
    // Settled as they finish, so a failure cut short by close is never an unhandled rejection.
    const writes = Promise.allSettled(files.map((f) => c.writeLtxFile(f.info, f.localPath)));
    await new Promise((r) => setTimeout(r, 50));
    await within(30_000, 'close(1000) with uploads in flight', c.close(1_000));
    const outcomes = await within(10_000, 'the uploads settling after close', writes);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ReplicaError);
    const listed = await client(root).listLtxFiles(0);
    for (const f of listed) expect((await c.readLtxFile(f)).equals(files[f.maxTXID - 1]!.data)).toBe(true);
    // Later use reconnects (or just works), and every interrupted upload's temporary file is gone.
    const later = await ltxFixture(local, 0, 9, 9, 1000);
    await c.writeLtxFile(later.info, later.localPath);
    expect((await c.listLtxFiles(0)).map((f) => f.maxTXID)).toEqual([...listed.map((f) => f.maxTXID), 9]);
    await c.close(5_000);
    expect(await names(root, 0)).toEqual([...listed, later.info].map((f) => nameOf(f)));
  });

  test('stale temporary files are swept by name and age; young ones, strays and LTX files stay', async () => {
    const root = h.newRoot();
    const c = client(root);
    if (!h.temporaryFiles) {
      expect(await c.sweepTemporaryFiles(0)).toBe(0);
      return;
    }
    const kept = await ltxFixture(local, 0, 1, 1, 2000);
    await c.writeLtxFile(kept.info, kept.localPath);
    const stale0 = `${ltxFileName(2, 2)}.deadbeef.tmp`;
    const stale9 = `${ltxFileName(1, 5)}.a1b2c3d4.tmp`;
    const young = `${ltxFileName(3, 3)}.0badf00d.tmp`;
    const strays = ['notes.tmp', `${ltxFileName(4, 4)}.tmp`, `${ltxFileName(5, 5)}.x.y.tmp`];
    await h.plant(root, 0, stale0, 1000, HOUR);
    await h.plant(root, 9, stale9, 1000, 2 * HOUR);
    await h.plant(root, 0, young, 1000, 0);
    for (const s of strays) await h.plant(root, 0, s, 10, HOUR);

    expect(await c.sweepTemporaryFiles(10 * MINUTE)).toBe(2);
    expect(await names(root, 0)).toEqual([nameOf(kept.info), young, ...strays].sort());
    expect(await names(root, 9)).toEqual([]);
    expect(await c.listLtxFiles(0)).toEqual([kept.info]);
    // Nothing left that old: a second sweep removes nothing.
    expect(await c.sweepTemporaryFiles(10 * MINUTE)).toBe(0);
  });

  test('a writer sweeps leftovers by itself with its first write; a reader never sweeps', async () => {
    const root = h.newRoot();
    if (!h.temporaryFiles) return void expect(await client(root).sweepTemporaryFiles(0)).toBe(0);
    const stale0 = `${ltxFileName(1, 1)}.00c0ffee.tmp`;
    const stale3 = `${ltxFileName(1, 64)}.0dec0de0.tmp`;
    await h.plant(root, 0, stale0, 4096, HOUR);
    await h.plant(root, 3, stale3, 4096, HOUR);
    // A reader (restore) lists and reads, and leaves the replica as it found it.
    const reader = client(root);
    for (const level of LEVELS) await reader.listLtxFiles(level);
    expect(await names(root, 0)).toEqual([stale0]);
    expect(await names(root, 3)).toEqual([stale3]);
    // A writer with the default bound (minutes) removes them with its first write.
    const writer = client(root);
    const f = await ltxFixture(local, 0, 1, 1, 3000);
    await writer.writeLtxFile(f.info, f.localPath);
    expect(await names(root, 0)).toEqual([nameOf(f.info)]);
    expect(await names(root, 3)).toEqual([]);
  });

  test('a leftover too young to sweep at first is swept by a later write once it turns stale', async () => {
    const root = h.newRoot();
    if (!h.temporaryFiles) return void expect(await client(root).sweepTemporaryFiles(0)).toBe(0);
    const c = client(root, { tempFileMaxAgeMs: 1_500 });
    const young = `${ltxFileName(2, 2)}.1234abcd.tmp`;
    await h.plant(root, 0, young, 100, 0);
    const first = await ltxFixture(local, 0, 1, 1, 100);
    await c.writeLtxFile(first.info, first.localPath);
    expect(await names(root, 0)).toEqual([nameOf(first.info), young]);
    // Past the bound (and a second for whole-second timestamps), the next write sweeps it.
    await new Promise((r) => setTimeout(r, 2_700));
    const second = await ltxFixture(local, 0, 2, 2, 100);
    await c.writeLtxFile(second.info, second.localPath);
    expect(await names(root, 0)).toEqual([nameOf(first.info), nameOf(second.info)]);
  });

  test('the fence record: absent, created once, replaced only from the version read, never listed as an LTX file', async () => {
    const root = h.newRoot();
    const c = client(root);
    expect(await c.readFence()).toBeNull();
    // Replacing a record that does not exist fails, and writes nothing.
    expect(await c.writeFence('{"g":0}\n', 'no-such-version')).toBe(false);
    expect(await c.readFence()).toBeNull();
    expect(await c.writeFence('{"g":1}\n', null)).toBe(true);
    // A second creator loses: the record is there.
    expect(await client(root).writeFence('{"g":"other"}\n', null)).toBe(false);
    const first = await c.readFence();
    expect(first?.text).toBe('{"g":1}\n');
    // Another client sees the same record and version.
    expect(await client(root).readFence()).toEqual(first);
    expect(await c.writeFence('{"g":2}\n', first!.version)).toBe(true);
    const second = await c.readFence();
    expect(second?.text).toBe('{"g":2}\n');
    expect(second?.version).not.toBe(first!.version);
    // A writer still holding the old version loses, and the record stays as it is.
    expect(await client(root).writeFence('{"g":"stale"}\n', first!.version)).toBe(false);
    expect((await c.readFence())?.text).toBe('{"g":2}\n');
    for (const level of LEVELS) expect(await c.listLtxFiles(level)).toEqual([]);
    // LTX files beside it are untouched by it, and it by them.
    const f = await ltxFixture(local, 0, 1, 1, 2000);
    await c.writeLtxFile(f.info, f.localPath, { exclusive: true });
    expect(await c.listLtxFiles(0)).toEqual([f.info]);
    expect(await names(root, 0)).toEqual([nameOf(f.info)]);
    expect((await c.readFence())?.text).toBe('{"g":2}\n');
  });

  test('two promotions creating the fence record at once: exactly one wins', async () => {
    const root = h.newRoot();
    const a = client(root);
    const b = client(root);
    const results = await Promise.all([a.writeFence('{"who":"a"}\n', null), b.writeFence('{"who":"b"}\n', null)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? 'a' : 'b';
    expect((await a.readFence())?.text).toBe(`{"who":"${winner}"}\n`);
  });
});
