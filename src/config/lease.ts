// The lease (opt-in): the owner of a replica renews its fence record every renew-interval, and a
// standby started with -takeover may promote itself once a renewal has not come for `duration`.
// Pure: the settings and their rules, shared by the config file and the command-line flags.

export interface LeaseSettings {
  durationMs: number;
  renewIntervalMs: number;
}

/** Renewals come a third of the lease apart unless set, so two can fail before it runs out. */
export function leaseSettings(durationMs: number, renewIntervalMs: number | null): LeaseSettings {
  return { durationMs, renewIntervalMs: renewIntervalMs ?? Math.max(1, Math.floor(durationMs / 3)) };
}

/** What is wrong with a lease's settings, naming the key, or null. */
export function leaseProblem(s: LeaseSettings): { key: 'duration' | 'renew-interval'; message: string } | null {
  if (s.durationMs < 1000) return { key: 'duration', message: 'must be at least 1s' };
  if (s.renewIntervalMs >= s.durationMs) return { key: 'renew-interval', message: 'must be shorter than the lease duration (a third of it by default)' };
  return null;
}
