// `~` in a configured path, as a shell would read it.
import os from 'node:os';
import path from 'node:path';

export function expandHome(p: string, env: NodeJS.ProcessEnv): string {
  if (p === '~' || p.startsWith('~/')) return path.join(env.HOME || os.homedir(), p.slice(1));
  return p;
}
