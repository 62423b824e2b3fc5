// The fence record: who owns a replica's history, beside `ltx/` (Litestream ignores it). Promotion
// writes a record with a higher generation before its first upload; from then on a replicator whose
// generation is lower never adds a file to that history. With a lease, the owner renews the record
// on an interval, and a standby may take over once the lease has expired. Pure: the record's format
// and the decisions; reading and writing it is the replica client's.

/** The record's name under the replica root, beside ltx/ (layout.ts). */
export { FENCE_FILE } from '../replica/layout.js';
const FORMAT = 'walship-fence';
const VERSION = 1;

export interface FenceOwner {
  /** Random, made once per database and kept in its staging (replica-fence.ts): a restarted primary is the same owner, another host or database is not. */
  id: string;
  host: string;
  pid: number;
}

export interface FenceLease {
  /** When the owner last renewed (ms since the epoch, the owner's clock). */
  renewedAt: number;
  /** How long a renewal holds. */
  durationMs: number;
}

export interface FenceRecord {
  /** Starts at 1 and goes up by one per promotion; never reused. */
  generation: number;
  owner: FenceOwner;
  claimedAt: number;
  /** The TXID the history had when this owner claimed it: its first upload continues from here. */
  txid: number;
  lease: FenceLease | null;
}

export class FenceError extends Error {
  override name = 'FenceError';
}

export function encodeFence(r: FenceRecord): string {
  validate(r, 'fence record');
  return `${JSON.stringify({
    format: FORMAT,
    version: VERSION,
    generation: r.generation,
    owner: r.owner,
    claimedAt: new Date(r.claimedAt).toISOString(),
    txid: r.txid,
    lease: r.lease ? { renewedAt: new Date(r.lease.renewedAt).toISOString(), durationMs: r.lease.durationMs } : null,
  })}\n`;
}

/** Parses a record read from `where`; anything malformed is a FenceError naming it. */
export function parseFence(text: string, where: string): FenceRecord {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new FenceError(`${where}: not JSON`);
  }
  if (typeof v !== 'object' || v === null || v.format !== FORMAT) throw new FenceError(`${where}: not a walship fence record`);
  if (v.version !== VERSION) throw new FenceError(`${where}: fence record version ${String(v.version)} is not supported (this walship reads ${VERSION})`);
  const owner = v.owner as Partial<FenceOwner> | undefined;
  const lease = v.lease as { renewedAt?: unknown; durationMs?: unknown } | null | undefined;
  const r: FenceRecord = {
    generation: v.generation as number,
    owner: { id: owner?.id as string, host: owner?.host as string, pid: owner?.pid as number },
    claimedAt: time(v.claimedAt, where, 'claimedAt'),
    txid: v.txid as number,
    lease: lease == null ? null : { renewedAt: time(lease.renewedAt, where, 'lease.renewedAt'), durationMs: lease.durationMs as number },
  };
  validate(r, where);
  return r;
}

/** The record a promotion writes: the next generation, owned by `me`, continuing at `txid`. */
export function nextFence(current: FenceRecord | null, me: FenceOwner, txid: number, now: number, leaseMs: number | null): FenceRecord {
  if (current && txid < current.txid) throw new FenceError(`cannot claim at TXID ${txid}: generation ${current.generation} claimed at ${current.txid}`);
  return {
    generation: (current?.generation ?? 0) + 1,
    owner: me,
    claimedAt: now,
    txid,
    lease: leaseMs === null ? null : { renewedAt: now, durationMs: leaseMs },
  };
}

export type FenceDecision =
  /** No record: a replica nobody promoted onto; the configured replicator ships as before. */
  | { kind: 'unclaimed' }
  /** This replicator owns the history. */
  | { kind: 'owner' }
  /** Another owner claimed it: stop shipping, keep staging, say who. */
  | { kind: 'fenced'; by: FenceRecord };

/**
 * Whether a replicator that holds generation `mine` (0 if it never claimed) and owner id `myId` may
 * add files, given the record it just read.
 */
export function decide(record: FenceRecord | null, mine: number, myId: string): FenceDecision {
  if (!record) return mine === 0 ? { kind: 'unclaimed' } : { kind: 'fenced', by: missingRecord(mine) };
  if (record.generation === mine && record.owner.id === myId) return { kind: 'owner' };
  // A lower generation than ours means the record went back (restored from a backup, or edited):
  // nobody can be sure who owns the history, so nobody ships until a promotion settles it.
  return { kind: 'fenced', by: record };
}

/** One line for the log and the error when fenced. */
export function describeFence(replica: string, r: FenceRecord): string {
  return `replica ${replica} belongs to ${r.owner.host} (pid ${r.owner.pid}, generation ${r.generation}, since ${new Date(r.claimedAt).toISOString()}); not shipping to it`;
}

/**
 * Whether a standby may take over: the lease has run out by more than `skewMs` (the clock
 * difference allowed between the owner and the standby). No lease, no takeover.
 */
export function leaseExpired(r: FenceRecord, now: number, skewMs: number): boolean {
  if (!r.lease) return false;
  return now > r.lease.renewedAt + r.lease.durationMs + skewMs;
}

/**
 * Whether a standby may take over, judged on its own clock only: the record has not changed (no
 * renewal came) for longer than the lease since the standby first saw it as it is. Clock skew
 * between the hosts plays no part; only how fast the clocks run does. No lease, no takeover.
 */
export function leaseUnrenewed(r: FenceRecord, unchangedSince: number, now: number): boolean {
  if (!r.lease) return false;
  return now - unchangedSince > r.lease.durationMs;
}

/** When the owner should next renew: a third of the lease, so two renewals can fail before it runs out. */
export function renewalDue(r: FenceRecord, now: number): boolean {
  if (!r.lease) return false;
  return now >= r.lease.renewedAt + Math.floor(r.lease.durationMs / 3);
}

/** The owner's renewal; only the owner renews. */
export function renewLease(r: FenceRecord, myId: string, now: number): FenceRecord {
  if (r.owner.id !== myId) throw new FenceError(`only the owner renews the lease (owner ${r.owner.host}, pid ${r.owner.pid})`);
  if (!r.lease) throw new FenceError('this record has no lease');
  return { ...r, lease: { ...r.lease, renewedAt: Math.max(now, r.lease.renewedAt) } };
}

function missingRecord(mine: number): FenceRecord {
  return { generation: mine, owner: { id: '', host: '(record missing)', pid: 0 }, claimedAt: 0, txid: 0, lease: null };
}

function time(v: unknown, where: string, field: string): number {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw new FenceError(`${where}: ${field} is not a time`);
  return t;
}

function validate(r: FenceRecord, where: string): void {
  const posInt = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!posInt(r.generation) || r.generation < 1) throw new FenceError(`${where}: generation must be a whole number from 1`);
  if (typeof r.owner.id !== 'string' || r.owner.id === '' || typeof r.owner.host !== 'string' || !posInt(r.owner.pid)) throw new FenceError(`${where}: owner needs id, host and pid`);
  if (!posInt(r.txid)) throw new FenceError(`${where}: txid must be a whole number`);
  if (r.lease && (!posInt(r.lease.durationMs) || r.lease.durationMs < 1)) throw new FenceError(`${where}: lease.durationMs must be positive`);
}
