// The fence record and its decisions: generations, who may ship, when a lease has run out.
import { describe, expect, it } from 'vitest';
import { decide, describeFence, encodeFence, FenceError, leaseExpired, leaseUnrenewed, nextFence, parseFence, renewalDue, renewLease, type FenceOwner } from '../../src/follow/fence.js';

const a: FenceOwner = { id: 'aaaa', host: 'primary-1', pid: 10 };
const b: FenceOwner = { id: 'bbbb', host: 'standby-1', pid: 20 };
const T = Date.parse('2026-01-02T03:04:05.000Z');

describe('fence record', () => {
  it('round-trips through its text form', () => {
    const r = nextFence(null, a, 42, T, 30_000);
    expect(parseFence(encodeFence(r), 'x')).toEqual(r);
    const noLease = nextFence(r, b, 50, T + 1000, null);
    expect(parseFence(encodeFence(noLease), 'x')).toEqual(noLease);
  });

  it('refuses malformed records, naming where they came from', () => {
    expect(() => parseFence('{', 'sftp://h/r/walship-fence.json')).toThrow(/sftp:\/\/h\/r\/walship-fence.json: not JSON/);
    expect(() => parseFence('{"format":"other"}', 'f')).toThrow(FenceError);
    expect(() => parseFence(encodeFence(nextFence(null, a, 1, T, null)).replace('"version":1', '"version":2'), 'f')).toThrow(/version 2 is not supported/);
    expect(() => parseFence(encodeFence(nextFence(null, a, 1, T, null)).replace('"generation":1', '"generation":0'), 'f')).toThrow(/generation/);
    expect(() => parseFence(encodeFence(nextFence(null, a, 1, T, null)).replace('"pid":10', '"pid":-1'), 'f')).toThrow(/owner/);
  });

  it('each promotion takes the next generation and never goes back in TXID', () => {
    const g1 = nextFence(null, a, 10, T, null);
    const g2 = nextFence(g1, b, 12, T + 1, null);
    expect([g1.generation, g2.generation]).toEqual([1, 2]);
    expect(() => nextFence(g2, a, 11, T + 2, null)).toThrow(/cannot claim at TXID 11/);
  });
});

describe('decide', () => {
  it('an unclaimed replica ships as before; the owner ships; anyone else is fenced', () => {
    const g2 = nextFence(nextFence(null, a, 10, T, null), b, 12, T, null);
    expect(decide(null, 0, a.id)).toEqual({ kind: 'unclaimed' });
    expect(decide(g2, 2, b.id)).toEqual({ kind: 'owner' });
    // the old primary (generation 1, or never claimed) after a promotion
    expect(decide(g2, 1, a.id)).toMatchObject({ kind: 'fenced', by: { generation: 2, owner: { host: 'standby-1' } } });
    expect(decide(g2, 0, a.id)).toMatchObject({ kind: 'fenced' });
    // same generation, another process: two promoters raced; the record's owner wins
    expect(decide(g2, 2, a.id)).toMatchObject({ kind: 'fenced' });
  });

  it('a record that went back, or vanished after we claimed, fences everyone', () => {
    const g1 = nextFence(null, a, 10, T, null);
    expect(decide(g1, 3, a.id)).toMatchObject({ kind: 'fenced' });
    expect(decide(null, 1, a.id)).toMatchObject({ kind: 'fenced' });
  });

  it('describes the new owner in one line', () => {
    const line = describeFence('sftp://backup/app', nextFence(null, b, 1, T, null));
    expect(line).toBe('replica sftp://backup/app belongs to standby-1 (pid 20, generation 1, since 2026-01-02T03:04:05.000Z); not shipping to it');
  });
});

describe('lease', () => {
  const leased = nextFence(null, a, 1, T, 30_000);

  it('expires only after its duration plus the allowed clock skew', () => {
    expect(leaseExpired(leased, T + 30_000 + 5_000, 5_000)).toBe(false);
    expect(leaseExpired(leased, T + 30_000 + 5_001, 5_000)).toBe(true);
  });

  it('no lease, no takeover', () => {
    expect(leaseExpired(nextFence(null, a, 1, T, null), T + 1e12, 0)).toBe(false);
  });

  it('is renewed by its owner only, after a third of its duration, and never backwards', () => {
    expect(renewalDue(leased, T + 9_999)).toBe(false);
    expect(renewalDue(leased, T + 10_000)).toBe(true);
    expect(renewLease(leased, a.id, T + 10_000).lease!.renewedAt).toBe(T + 10_000);
    expect(renewLease(leased, a.id, T - 5).lease!.renewedAt).toBe(T);
    expect(() => renewLease(leased, b.id, T + 1)).toThrow(/only the owner/);
  });
});

describe('takeover judged on the standby\'s own clock', () => {
  it('a record unchanged for longer than its lease has run out, whatever its renewedAt says', () => {
    // The owner's clock is an hour ahead: its renewedAt lies in the standby's future. Only how long
    // the standby has seen the record unchanged counts.
    const r = nextFence(null, a, 5, T + 3_600_000, 3_000);
    const seenAt = T;
    expect(leaseUnrenewed(r, seenAt, seenAt + 3_000)).toBe(false);
    expect(leaseUnrenewed(r, seenAt, seenAt + 3_001)).toBe(true);
    // Its clock an hour behind: renewedAt long past, yet a fresh sighting is not an expiry.
    const behind = nextFence(null, a, 5, T - 3_600_000, 3_000);
    expect(leaseUnrenewed(behind, seenAt, seenAt + 10)).toBe(false);
  });

  it('no lease, no takeover', () => {
    expect(leaseUnrenewed(nextFence(null, a, 5, T, null), T, T + 1e9)).toBe(false);
  });
});

