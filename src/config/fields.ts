// Reading one typed field of a config mapping: strings, booleans, integers, durations, sizes, local
// paths and host keys, each failing with the key path it is about, and unknown keys as warnings.
// The config's structure (which keys where, defaults) is load.ts's.
import { ConfigError } from './config-error.js';
import { MAX_TIMER_MS, parseDuration } from './duration.js';
import { fsPathProblem } from './fs-path.js';
import { parseSize } from './size.js';
import { describe, excerpt, quote } from './text.js';
import { parsePublicKeyLine } from '../replica/known-hosts.js';

export type Obj = Record<string, unknown>;

const MAX_GO_DURATION_MS = 9_223_372_036_854;

export class ConfigFields {
  constructor(
    protected readonly source: string,
    protected readonly warnings: string[],
    protected readonly env: NodeJS.ProcessEnv,
  ) {}

  fail(key: string, message: string): never {
    throw new ConfigError(`${this.source}: ${key}: ${message}`);
  }

  object(v: unknown, key: string): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(key, `expected a mapping, got ${describe(v)}`);
    return v as Obj;
  }

  checkKeys(o: Obj, key: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.warnings.push(`${this.source}: unknown key ${key ? `${key}.` : ''}${excerpt(k)} (ignored)`);
    }
  }

  str(o: Obj, k: string, key: string): string | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') this.fail(`${key}.${k}`, `expected a string, got ${describe(v)}`);
    return v;
  }

  bool(o: Obj, k: string, key: string): boolean | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'boolean') this.fail(`${key}.${k}`, `${quote(v)} is not true or false`);
    return v;
  }

  int(o: Obj, k: string, key: string, min: number): number | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(`${key}.${k}`, `${quote(v)} is not an integer`);
    if (v < min) this.fail(`${key}.${k}`, `${v} is below the minimum ${min}`);
    return v;
  }

  /**
   * A duration in ms. `timer` marks a key walship waits on with a Node timer (or hands to SQLite
   * as its busy timeout): those stop at MAX_TIMER_MS. Keys only compared with timestamps
   * (retentions, ready-lag, snapshot intervals) take any length.
   */
  duration(o: Obj, k: string, key: string, opts: { allowZero: boolean; timer?: boolean; wholeMs?: boolean }): number | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    const at = key ? `${key}.${k}` : k;
    const ms = typeof v === 'string' ? parseDuration(v) : typeof v === 'number' && v === 0 ? 0 : null;
    if (ms === null) this.fail(at, `${quote(v)} is not a duration (use Go syntax such as 1s, 500ms, 1h30m)`);
    if (ms < 0) this.fail(at, `${quote(v)} is negative`);
    if (ms === 0 && !opts.allowZero) this.fail(at, `${quote(v)} must be greater than zero`);
    if (ms > MAX_GO_DURATION_MS) this.fail(at, `${quote(v)} is longer than the longest duration (about 292 years)`);
    if (opts.timer && ms > MAX_TIMER_MS) this.fail(at, `${quote(v)} is longer than the maximum 596h31m (2^31-1 ms, about 24.8 days)`);
    if (opts.wholeMs && !Number.isInteger(ms)) this.fail(at, `${quote(v)} is not a whole number of milliseconds`);
    return ms;
  }

  /** A string, and only a string: a number or boolean here is a mistake, not a name. */
  text(o: Obj, k: string, key: string): string | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.fail(`${key}.${k}`, `expected a string, got ${describe(v)}`);
    return v;
  }

  /** host-key: an authorized_keys style line, checked now rather than at the first connect. */
  hostKey(o: Obj, key: string): string | null {
    const v = this.text(o, 'host-key', key);
    if (v !== null && !parsePublicKeyLine(v)) {
      this.fail(`${key}.host-key`, `${quote(v)} is not a public key line such as "ssh-ed25519 AAAAC3Nza... comment"`);
    }
    return v;
  }

  /** A local path: a string Linux can take, with room for what walship adds to its name. */
  fsPath(o: Obj, k: string, key: string, nameReserve = 0): string | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') this.fail(`${key}.${k}`, `expected a path (a string), got ${describe(v)}`);
    const bad = fsPathProblem(v, nameReserve);
    if (bad) this.fail(`${key}.${k}`, `the path ${bad}`);
    return v;
  }

  size(o: Obj, k: string, key: string): number | null {
    const v = o[k];
    if (v === undefined || v === null) return null;
    const bytes = parseSize(v);
    if (bytes === null || bytes === 0) this.fail(`${key}.${k}`, `${quote(v)} is not a size (such as 512MB or 2GiB)`);
    return bytes;
  }
}
