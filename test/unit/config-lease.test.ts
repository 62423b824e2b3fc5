// lease: in the config and -lease-duration/-lease-renew-interval: defaults, and what is refused.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { parseArgs } from '../../src/cli/args.js';
import { LEASE_FLAGS, leaseFromFlags } from '../../src/cli/lease-flags.js';
import { UsageError } from '../../src/cli/errors.js';

const base = 'dbs:\n  - path: /tmp/x.db\n    replicas:\n      - url: file:///tmp/r\n';

describe('lease config', () => {
  it('is off unless configured', () => {
    expect(parseConfig(base, 'c.yml').config.lease).toBeNull();
  });

  it('renews at a third of the lease by default, or at renew-interval', () => {
    expect(parseConfig(`lease:\n  duration: 30s\n${base}`, 'c.yml').config.lease).toEqual({ durationMs: 30_000, renewIntervalMs: 10_000 });
    expect(parseConfig(`lease:\n  duration: 30s\n  renew-interval: 5s\n${base}`, 'c.yml').config.lease).toEqual({ durationMs: 30_000, renewIntervalMs: 5_000 });
  });

  it('refuses a lease without a duration, too short, or renewed no sooner than it runs out, naming the key', () => {
    expect(() => parseConfig(`lease:\n  renew-interval: 5s\n${base}`, 'c.yml')).toThrow(/c\.yml: lease\.duration: required/);
    expect(() => parseConfig(`lease:\n  duration: 500ms\n${base}`, 'c.yml')).toThrow(/lease\.duration: must be at least 1s/);
    expect(() => parseConfig(`lease:\n  duration: 10s\n  renew-interval: 10s\n${base}`, 'c.yml')).toThrow(ConfigError);
    expect(() => parseConfig(`lease:\n  duration: 10s\n  renew-interval: 10s\n${base}`, 'c.yml')).toThrow(/lease\.renew-interval: must be shorter/);
  });

  it('flags override the config', () => {
    const args = (argv: string[]) => parseArgs('replicate', argv, LEASE_FLAGS);
    expect(leaseFromFlags(args([]), 'replicate', null)).toBeNull();
    expect(leaseFromFlags(args(['-lease-duration', '9s']), 'replicate', null)).toEqual({ durationMs: 9_000, renewIntervalMs: 3_000 });
    expect(leaseFromFlags(args(['-lease-renew-interval', '2s']), 'replicate', { durationMs: 30_000, renewIntervalMs: 10_000 })).toEqual({ durationMs: 30_000, renewIntervalMs: 2_000 });
    expect(() => leaseFromFlags(args(['-lease-renew-interval', '2s']), 'replicate', null)).toThrow(UsageError);
    expect(() => leaseFromFlags(args(['-lease-duration', '3s', '-lease-renew-interval', '3s']), 'replicate', null)).toThrow(/-lease-renew-interval must be shorter/);
    expect(() => leaseFromFlags(args(['-lease-duration', 'soon']), 'replicate', null)).toThrow(/-lease-duration "soon" is not a positive duration/);
  });
});
