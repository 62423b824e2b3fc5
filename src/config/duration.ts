// Go's time.ParseDuration syntax ("1h30m", "500ms", "1.5s"), as Litestream configs use it.

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * The longest delay a Node timer takes (2^31-1 ms, about 24.8 days); a longer one fires at once.
 * Also the most SQLite's busy timeout (a C int of milliseconds) holds.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds, or null when `text` is not a Go duration. A bare "0" is allowed, as in Go. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) return null;
  const sign = m[1] === '-' ? -1 : 1;
  let total = 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
  for (const p of s.slice(m[1]!.length).matchAll(part)) total += Number(p[1]) * UNIT_MS[p[2]!]!;
  // Go counts whole nanoseconds; rounding to them undoes float error ("1.001s" is 1001, not 1000.9999999999999).
  return sign * (Math.round(total * 1e6) / 1e6);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms !== 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms !== 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
