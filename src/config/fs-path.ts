// Limits a path from a config must meet before anything is created from it. Linux refuses a path
// over PATH_MAX bytes or a name over NAME_MAX bytes, and Node refuses a NUL byte; checking here
// turns what would be a raw system error at mkdir time into a config error naming the key.

const PATH_MAX_BYTES = 4095;
const NAME_MAX_BYTES = 255;

/**
 * Null when `p` is usable; otherwise what is wrong with it. `nameReserve` is how many bytes
 * walship adds to the last name (".NAME-walship" beside a database is 9).
 */
export function fsPathProblem(p: string, nameReserve = 0): string | null {
  if (p.includes('\0')) return 'contains a NUL byte';
  const bytes = Buffer.byteLength(p);
  if (bytes > PATH_MAX_BYTES) return `is ${bytes} bytes long; the limit is ${PATH_MAX_BYTES}`;
  const names = p.split('/');
  for (let i = 0; i < names.length; i++) {
    const limit = NAME_MAX_BYTES - (i === names.length - 1 ? nameReserve : 0);
    const n = Buffer.byteLength(names[i]!);
    if (n > limit) return `has a name of ${n} bytes; the limit here is ${limit}`;
  }
  return null;
}
