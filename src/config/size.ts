// Byte sizes in configs: a plain integer, or a number with a unit (KB, MB, GB, KiB, MiB, GiB).

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Bytes, or null when `v` is not a size. */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return null;
  const unit = UNITS[(m[2] || 'b').toLowerCase()];
  if (unit === undefined) return null;
  return Math.round(Number(m[1]) * unit);
}
