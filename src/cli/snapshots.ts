// walship snapshots: a replica's level-9 files, the same listing as `walship ltx -level 9`.
import { ltxCommand } from './ltx.js';

export function snapshotsCommand(argv: readonly string[]): Promise<number> {
  return ltxCommand(['-level', '9', ...argv.filter((a, i) => !(a.replace(/^--?/, '').startsWith('level') || argv[i - 1]?.replace(/^--?/, '') === 'level'))]);
}
