// What the restore command shares between one database and all of a config's: the flags saying
// what to restore up to and how many files to fetch at once, and the -json result.
import { parseDuration } from '../config/duration.js';
import type { RestoreTarget } from '../restore/plan.js';
import { formatTXID } from '../ltx/format.js';
import type { RestoreOutcome } from '../restore/restore.js';
import type { IntegrityCheck } from '../restore/apply.js';
import type { ParsedArgs } from './args.js';
import { UsageError } from './errors.js';

export function parseParallelism(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new UsageError(`restore: -parallelism "${v}" is not a number of files from 1 to 64`);
  return n;
}

export function durationFlag(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0 || ms > 2_147_483_647) throw new UsageError(`restore: -${name} "${text}" is not a positive duration (e.g. 1s, 500ms)`);
  return ms;
}

export function parseTarget(txid: string | undefined, timestamp: string | undefined): RestoreTarget {
  if (txid !== undefined && timestamp !== undefined) throw new UsageError('restore: give -txid or -timestamp, not both');
  if (txid !== undefined) {
    const n = /^[0-9a-f]{16}$/i.test(txid) ? Number.parseInt(txid, 16) : /^\d+$/.test(txid) ? Number(txid) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`restore: -txid "${txid}" is not a TXID`);
    return { txid: n };
  }
  if (timestamp !== undefined) {
    const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
    const t = new Date(timestamp);
    if (!rfc3339.test(timestamp) || Number.isNaN(t.getTime())) throw new UsageError(`restore: -timestamp "${timestamp}" is not an RFC 3339 time`);
    return { timestamp: t };
  }
  return {};
}

/** Litestream's -json result fields, plus `files`; a skipped restore says why instead. */
export function resultJson(outcome: RestoreOutcome, dbPath: string, integrity: string, durationMs: number): Record<string, unknown> {
  if (outcome.kind === 'restored') {
    return { db_path: dbPath, replica: outcome.replica, txid: formatTXID(outcome.txid), files: outcome.files, duration_ms: durationMs, integrity_check: integrity };
  }
  return { db_path: dbPath, skipped: outcome.kind };
}

/** The flags restoring one database and restoring every database of a config take alike. */
export interface RestoreFlags {
  integrity: IntegrityCheck;
  ifDbNotExists: boolean;
  ifReplicaExists: boolean;
  dryRun: boolean;
  parallelism: number | undefined;
}

export function restoreFlags(args: ParsedArgs): RestoreFlags {
  const integrity = args.strings.get('integrity-check') ?? 'quick';
  if (integrity !== 'none' && integrity !== 'quick' && integrity !== 'full') throw new UsageError(`restore: -integrity-check must be none, quick or full, not "${integrity}"`);
  return {
    integrity,
    ifDbNotExists: args.booleans.has('if-db-not-exists'),
    ifReplicaExists: args.booleans.has('if-replica-exists'),
    dryRun: args.booleans.has('dry-run'),
    parallelism: parseParallelism(args.strings.get('parallelism')),
  };
}
