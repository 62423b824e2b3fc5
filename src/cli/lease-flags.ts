// -lease-duration and -lease-renew-interval, for replicate and for a follower that may take over
// (the primary it becomes renews with them). They override lease: in the config.
import { parseDuration } from '../config/duration.js';
import { leaseProblem, leaseSettings, type LeaseSettings } from '../config/lease.js';
import type { FlagSpec, ParsedArgs } from './args.js';
import { UsageError } from './errors.js';

export const LEASE_FLAGS: Record<string, FlagSpec> = {
  'lease-duration': { type: 'string', help: 'renew a lease in the replica\'s fence record that holds this long (default: lease.duration in the config; none)' },
  'lease-renew-interval': { type: 'string', help: 'how often the lease is renewed (default: a third of the lease)' },
};

export function leaseFromFlags(args: ParsedArgs, command: string, fromConfig: LeaseSettings | null): LeaseSettings | null {
  const duration = flagMs(args.strings.get('lease-duration'), command, 'lease-duration');
  const renew = flagMs(args.strings.get('lease-renew-interval'), command, 'lease-renew-interval');
  if (duration === null && renew === null) return fromConfig;
  const base = duration ?? fromConfig?.durationMs;
  if (base === undefined) throw new UsageError(`${command}: -lease-renew-interval needs -lease-duration (or lease.duration in the config)`);
  const settings = leaseSettings(base, renew ?? (duration === null ? fromConfig?.renewIntervalMs ?? null : null));
  const problem = leaseProblem(settings);
  if (problem) throw new UsageError(`${command}: -lease-${problem.key} ${problem.message}`);
  return settings;
}

function flagMs(text: string | undefined, command: string, name: string): number | null {
  if (text === undefined) return null;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0 || ms > 2_147_483_647) throw new UsageError(`${command}: -${name} "${text}" is not a positive duration (e.g. 30s)`);
  return ms;
}
