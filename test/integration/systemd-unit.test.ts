// deploy/systemd/walship.service, checked without a running systemd: `systemd-analyze verify`
// (syntax, known directives and values, the ExecStart binary exists) with no warnings, the offline
// security score, and the settings the deployment relies on. What is NOT checked here: starting the
// unit (no systemd runs in the test environment), so the sandbox's effect on walship at run time
// is untested.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/processes.js';

const unitFile = path.join(repoRoot, 'deploy', 'systemd', 'walship.service');
const shipped = readFileSync(unitFile, 'utf8');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'walship-systemd-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function analyze(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 60_000, cwd: scratch });
  if (r.error) throw new Error(`systemd-analyze not runnable (${r.error.message}); scripts/setup-prometheus.sh installs systemd`);
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** A copy under the same name in its own directory; `node` at this machine's path (verify checks the binary exists). */
function unitCopy(text: string): string {
  const dir = mkdtempSync(path.join(scratch, 'u-'));
  const file = path.join(dir, 'walship.service');
  writeFileSync(file, text.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
  return file;
}

function serviceSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('[')) section = line;
    else if (section === '[Service]') {
      const i = line.indexOf('=');
      out.set(line.slice(0, i), [...(out.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
    }
  }
  return out;
}

describe('deploy/systemd/walship.service', () => {
  it('passes systemd-analyze verify with no warnings', () => {
    const r = analyze(['verify', unitCopy(shipped)]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('verify does catch a mistyped directive and a bad value (the check can fail)', () => {
    expect(analyze(['verify', unitCopy(shipped.replace('CPUQuota=20%', 'CPUQuotta=20%'))]).out).toContain("Unknown key 'CPUQuotta'");
    expect(analyze(['verify', unitCopy(shipped.replace('ProtectSystem=strict', 'ProtectSystem=strictest'))]).out).toContain('Failed to parse protect system value');
  });

  it('is hardened: a dedicated user, ProtectSystem=strict with ReadWritePaths, NoNewPrivileges, the seed resource limits', () => {
    const s = serviceSettings(shipped);
    expect(s.get('User')).toEqual(['walship']);
    expect(s.get('ProtectSystem')).toEqual(['strict']);
    expect(s.get('ReadWritePaths')?.length).toBe(1);
    expect(s.get('NoNewPrivileges')).toEqual(['yes']);
    expect(s.get('CPUQuota')).toEqual(['20%']);
    expect(s.get('MemoryMax')).toEqual(['256M']);
    expect(s.get('CapabilityBoundingSet')).toEqual(['']);
    expect(s.get('KillSignal')).toEqual(['SIGTERM']);
    // SIGTERM ships everything first, within shutdown-sync-timeout (30s) plus about 10s.
    expect(s.get('TimeoutStopSec')).toEqual(['60s']);
    expect(s.get('ExecStart')![0]).toMatch(/\/dist\/cli\/main\.js replicate -config \/etc\/walship\/walship\.yml$/);
  });

  it('scores as OK (exposure at most 2.0) in systemd-analyze security --offline', () => {
    const r = analyze(['security', '--offline=yes', unitCopy(shipped)]);
    const m = /Overall exposure level for walship\.service: (\d+\.\d+)/.exec(r.out);
    expect(m, r.out.slice(-2000)).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.0);
  });
});
