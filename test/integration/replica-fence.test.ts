// The replicator's side of the fence (src/replication/replica-fence.ts) on a real directory replica:
// who is the owner across restarts, what a lease writes, what a newer claim does to the old owner.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFence } from '../../src/follow/fence.js';
import { FileReplicaClient } from '../../src/replica/file.js';
import { FencedError, FenceIdentity, ReplicaFence } from '../../src/replication/replica-fence.js';

const log = pino({ level: 'silent' });
let dir: string | null = null;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

async function replicator(staging: string, root: string): Promise<ReplicaFence> {
  const id = new FenceIdentity(staging);
  await id.load();
  return new ReplicaFence(new FileReplicaClient(root), id, log, { db: 'x', replica: 'r' });
}

describe('replica fence', () => {
  it('without a lease a primary only reads: no record is written, and it may ship', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-fence-'));
    const root = path.join(dir, 'replica');
    const f = await replicator(path.join(dir, 'a'), root);
    await f.atStart(10, null);
    await f.ensureOwner();
    expect(await f.client.readFence()).toBeNull();
    expect(f.fenced).toBeNull();
  });

  it('a lease claims an unclaimed replica and renews it; a newer claim fences the old owner, across restarts', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-fence-'));
    const root = path.join(dir, 'replica');
    const a = await replicator(path.join(dir, 'a'), root);
    await a.atStart(10, 30_000);
    const first = parseFence((await a.client.readFence())!.text, 'r');
    expect(first).toMatchObject({ generation: 1, txid: 10, lease: { durationMs: 30_000 } });
    await new Promise((r) => setTimeout(r, 5));
    await a.renew();
    const renewed = parseFence((await a.client.readFence())!.text, 'r');
    expect(renewed.generation).toBe(1);
    expect(renewed.lease!.renewedAt).toBeGreaterThan(first.lease!.renewedAt);

    // The same primary restarted (same staging): still the owner.
    const aAgain = await replicator(path.join(dir, 'a'), root);
    await aAgain.atStart(10, 30_000);
    await aAgain.ensureOwner();

    // A standby promotes: generation 2.
    const b = await replicator(path.join(dir, 'b'), root);
    await b.claim(10, null);
    expect(parseFence((await b.client.readFence())!.text, 'r')).toMatchObject({ generation: 2, lease: null });
    const err = await aAgain.ensureOwner().then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(FencedError);
    expect(err!.message).toContain(`replica file://${root} belongs to ${os.hostname()}`);
    expect(err!.message).toContain('generation 2');
    // Fenced, it renews nothing, and a restart of it refuses at start.
    await aAgain.renew();
    expect(parseFence((await b.client.readFence())!.text, 'r').generation).toBe(2);
    const aThird = await replicator(path.join(dir, 'a'), root);
    await expect(aThird.atStart(10, 30_000)).rejects.toBeInstanceOf(FencedError);
    // The promoted one restarted is the owner.
    const bAgain = await replicator(path.join(dir, 'b'), root);
    await bAgain.atStart(12, null);
    await bAgain.ensureOwner();
    // Nothing but the record was written to the replica.
    expect(readdirSync(root)).toEqual(['walship-fence.json']);
  });

  it('of two promotions racing from the same record, one wins and the other is refused', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-fence-'));
    const root = path.join(dir, 'replica');
    const a = await replicator(path.join(dir, 'a'), root);
    const b = await replicator(path.join(dir, 'b'), root);
    const results = await Promise.allSettled([a.claim(5, null), b.claim(5, null)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(FencedError);
    expect(String(lost.reason.message)).toContain('another replicator claimed it first');
  });
});
