// The fence of one replica as a replicator sees it (the record's format and the decisions are
// follow/fence.ts; reading and writing it is the replica client's). Before the first upload of each
// shipping pass the shipper asks ensureOwner(): one small read per pass, none while idle. A record
// naming another owner stops shipping to that replica for good (staging keeps what was not shipped).
// With a lease, the owner renews the record on an interval; that is the only request an idle
// primary makes, and only when a lease is configured.
//
// Who "this replicator" is lives in its staging directory (`fence.json`): an owner id made once per
// database and kept, and the generation it claimed on each replica, so a restarted primary is still
// the owner and an old primary that comes back is not.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { decide, describeFence, encodeFence, nextFence, parseFence, renewLease, type FenceDecision, type FenceOwner, type FenceRecord } from '../follow/fence.js';
import { ReplicaError, type FenceRead, type ReplicaClient } from '../replica/client.js';
import { fsyncDir } from '../util/fs.js';

/** A newer owner holds the replica's history: nothing more is shipped to it. */
export class FencedError extends ReplicaError {
  override name = 'FencedError';
}

interface LocalFenceState {
  ownerId: string;
  /** Generation claimed, by replica location. */
  claims: Record<string, number>;
}

/** This database's identity as an owner, kept in its staging directory; load() before use. */
export class FenceIdentity {
  private readonly file: string;
  private state: LocalFenceState | null = null;

  constructor(stagingDir: string) {
    this.file = path.join(stagingDir, 'fence.json');
  }

  async load(): Promise<void> {
    try {
      const v = JSON.parse(await fsp.readFile(this.file, 'utf8')) as Partial<LocalFenceState>;
      if (typeof v.ownerId !== 'string' || !v.ownerId || typeof v.claims !== 'object' || !v.claims) throw new Error('malformed');
      this.state = { ownerId: v.ownerId, claims: { ...v.claims } };
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${this.file}: ${(err as Error).message}`);
    }
    this.state = { ownerId: randomBytes(8).toString('hex'), claims: {} };
    await this.save();
  }

  private get loaded(): LocalFenceState {
    if (!this.state) throw new Error(`${this.file} was not loaded`);
    return this.state;
  }

  get owner(): FenceOwner {
    return { id: this.loaded.ownerId, host: os.hostname(), pid: process.pid };
  }

  claimed(location: string): number {
    return this.loaded.claims[location] ?? 0;
  }

  async recordClaim(location: string, generation: number): Promise<void> {
    this.state = { ...this.loaded, claims: { ...this.loaded.claims, [location]: generation } };
    await this.save();
  }

  private async save(): Promise<void> {
    const dir = path.dirname(this.file);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(`${this.file}.tmp`, `${JSON.stringify(this.state)}\n`);
    await fsp.rename(`${this.file}.tmp`, this.file);
    await fsyncDir(dir);
  }
}

export class ReplicaFence {
  private fencedBy: FenceRecord | null = null;
  private lastRenewError: string | null = null;

  constructor(
    readonly client: ReplicaClient,
    private readonly identity: FenceIdentity,
    private readonly log: Logger,
    private readonly labels: Record<string, string>,
  ) {}

  /** The record that fenced this replicator off, once one did. */
  get fenced(): FenceRecord | null {
    return this.fencedBy;
  }

  fencedError(): FencedError {
    return new FencedError(this.client.location, describeFence(this.client.location, this.fencedBy!));
  }

  /**
   * Reads the record and decides whether this replicator may add files; with `mark`, a record
   * naming another owner fences this replicator off (logged once).
   */
  async check(mark = true): Promise<{ decision: FenceDecision; read: FenceRead | null; record: FenceRecord | null }> {
    const read = await this.client.readFence();
    const record = read ? parseFence(read.text, `${this.client.location}/walship-fence.json`) : null;
    const mine = record && record.owner.id === this.identity.owner.id ? record.generation : this.identity.claimed(this.client.location);
    const decision = decide(record, mine, this.identity.owner.id);
    if (mark && decision.kind === 'fenced') this.markFenced(decision.by);
    return { decision, read, record };
  }

  /** Before a shipping pass uploads: throws FencedError unless this replicator may add files. */
  async ensureOwner(): Promise<void> {
    if (this.fencedBy) throw this.fencedError();
    await this.check();
    if (this.fencedBy) throw this.fencedError();
  }

  /**
   * Claims the next generation, continuing the history at `txid` (a promotion, or a lease on a
   * replica nobody claimed). Conditional on the record read: a promotion that loses a race fails.
   */
  async claim(txid: number, leaseMs: number | null): Promise<FenceRecord> {
    const read = await this.client.readFence();
    const current = read ? parseFence(read.text, `${this.client.location}/walship-fence.json`) : null;
    const next = nextFence(current, this.identity.owner, txid, Date.now(), leaseMs);
    // Kept locally first: a crash after the write still knows the claim (the owner id says it anyway).
    await this.identity.recordClaim(this.client.location, next.generation);
    if (!(await this.client.writeFence(encodeFence(next), read?.version ?? null))) {
      const now = await this.client.readFence();
      const by = now ? parseFence(now.text, this.client.location) : null;
      throw new FencedError(this.client.location, `another replicator claimed it first${by ? `: ${describeFence(this.client.location, by)}` : ''}`);
    }
    this.fencedBy = null;
    this.log.info({ ...this.labels, event: 'fence_claimed', generation: next.generation, txid, lease_ms: leaseMs }, `claimed replica ${this.client.location} (generation ${next.generation})`);
    return next;
  }

  /**
   * At start, with a lease configured: claims an unclaimed replica, or renews our own record with
   * this lease. Without one, only reads (and decides).
   */
  async atStart(txid: number, leaseMs: number | null): Promise<void> {
    const { decision, record, read } = await this.check();
    if (decision.kind === 'fenced') throw this.fencedError();
    if (leaseMs === null) return;
    if (decision.kind === 'unclaimed') {
      await this.claim(txid, leaseMs);
      return;
    }
    const renewed: FenceRecord = { ...record!, lease: { renewedAt: Date.now(), durationMs: leaseMs } };
    if (!(await this.client.writeFence(encodeFence(renewed), read!.version))) await this.ensureOwner();
  }

  /** One lease renewal (the owner's timer). Failures are logged once each and retried next time. */
  async renew(): Promise<void> {
    if (this.fencedBy) return;
    try {
      const { decision, record, read } = await this.check();
      if (decision.kind !== 'owner' || !record?.lease) return;
      if (!(await this.client.writeFence(encodeFence(renewLease(record, this.identity.owner.id, Date.now())), read!.version))) await this.check();
      if (this.lastRenewError !== null) this.log.info({ ...this.labels, event: 'lease_renewed' }, 'lease renewed again');
      this.lastRenewError = null;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastRenewError) this.log.error({ ...this.labels, event: 'lease_renew_failed', err: message }, 'cannot renew the lease; a standby may take over once it expires');
      this.lastRenewError = message;
    }
  }

  private markFenced(by: FenceRecord): void {
    if (this.fencedBy) return;
    this.fencedBy = by;
    this.log.error({ ...this.labels, event: 'fenced', owner: by.owner.host, owner_pid: by.owner.pid, generation: by.generation }, describeFence(this.client.location, by));
  }
}
