// A standby's view of the primary's lease (restore -f -takeover): it reads the replica's fence
// record each poll and takes over once no renewal has come for longer than the lease, measured on
// its own clock from when it first saw the record as it is (fence.ts leaseUnrenewed). One small read
// per poll, only when takeover is on. A record without a lease (a primary running without one)
// never expires: the standby says so once and keeps following.
import type { Logger } from 'pino';
import type { ReplicaClient } from '../replica/client.js';
import { FENCE_FILE } from '../replica/layout.js';
import { leaseUnrenewed, parseFence, type FenceRecord } from './fence.js';

export class LeaseWatch {
  private seen: { version: string; since: number } | null = null;
  private noLeaseLogged = false;
  private lastError: string | null = null;
  /** The last record read, for the lease the new primary keeps. */
  record: FenceRecord | null = null;

  constructor(
    private readonly client: ReplicaClient,
    private readonly log: Logger,
    private readonly labels: Record<string, string>,
  ) {}

  /** One look at the record: true once the lease has run out as seen from here. */
  async expired(now = Date.now()): Promise<boolean> {
    let read;
    try {
      read = await this.client.readFence();
      this.lastError = null;
    } catch (err) {
      // The replica unreachable: nobody can tell whether the primary still renews, so nobody promotes.
      const message = (err as Error).message;
      if (message !== this.lastError) this.log.warn({ ...this.labels, event: 'lease_unreadable', err: message }, 'cannot read the lease; not taking over while the replica is unreachable');
      this.lastError = message;
      this.seen = null;
      return false;
    }
    const record = read ? parseFence(read.text, `${this.client.location}/${FENCE_FILE}`) : null;
    this.record = record;
    if (!read || !record?.lease) {
      if (!this.noLeaseLogged) this.log.warn({ ...this.labels, event: 'takeover_no_lease' }, 'the replica\'s owner holds no lease (start it with lease-duration): this standby follows and never takes over');
      this.noLeaseLogged = true;
      this.seen = null;
      return false;
    }
    this.noLeaseLogged = false;
    if (!this.seen || this.seen.version !== read.version) {
      this.seen = { version: read.version, since: now };
      return false;
    }
    return leaseUnrenewed(record, this.seen.since, now);
  }
}
