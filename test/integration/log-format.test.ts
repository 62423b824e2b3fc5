// The two log formats, each in a process of its own (the logger writes to fd 1): JSON by default
// off a terminal, one line per event; text when asked, through pino-pretty, which is loaded only then.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/processes.js';

const LOG = path.join(repoRoot, 'dist', 'log.js');

function logOnce(format: string): { out: string; pretty: boolean } {
  const script = `import { createLogger } from ${JSON.stringify(LOG)};
import { createRequire } from 'node:module';
const log = createLogger('info', ${format === 'default' ? 'null' : JSON.stringify(format)});
log.info({ event: 'probe', password: 'hunter2' }, 'hello');
const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/pino-pretty/'));
setTimeout(() => process.stderr.write(loaded ? 'pretty-loaded' : 'pretty-absent'), 50);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LOG_FORMAT: '', LOG_LEVEL: '' } });
  if (r.status !== 0) throw new Error(`logger process failed: ${r.stderr}`);
  return { out: r.stdout, pretty: r.stderr.includes('pretty-loaded') };
}

describe('log formats', () => {
  it('JSON: one parseable line per event, secrets redacted, pino-pretty never loaded', () => {
    const r = logOnce('default');
    const out = r.out.trim().split('\n');
    expect(out).toHaveLength(1);
    expect(r.pretty).toBe(false);
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, event: 'probe', msg: 'hello', password: '[redacted]' });
  });

  it('text: one readable line with the event', () => {
    const r = logOnce('text');
    const out = r.out.trim().split('\n');
    expect(out).toHaveLength(1);
    expect(r.pretty).toBe(true);
    expect(out[0]).toMatch(/INFO: hello .*"event":"probe"/);
    expect(out[0]).not.toContain('hunter2');
  });
});
