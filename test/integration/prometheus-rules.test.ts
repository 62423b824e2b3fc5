// deploy/prometheus/walship.rules.yml checked by Prometheus's own tool: `promtool check rules`, and
// `promtool test rules` with deploy/prometheus/walship.rules.test.yml. Each alert has a firing case
// there, and disabling any one alert makes the unit tests fail (so each case can fail).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { repoRoot } from '../helpers/processes.js';

const rulesDir = path.join(repoRoot, 'deploy', 'prometheus');
const rulesFile = path.join(rulesDir, 'walship.rules.yml');
const testsFile = path.join(rulesDir, 'walship.rules.test.yml');

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

function promtool(args: string[], cwd: string): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool not runnable (${r.error.message}); scripts/setup-prometheus.sh installs it`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const scratch = mkdtempSync(path.join(os.tmpdir(), 'walship-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const alerts = (parse(readFileSync(rulesFile, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules).map((r) => r.alert!);

describe('walship.rules.yml', () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', rulesFile], rulesDir);
    expect(r.out).toContain('SUCCESS: 6 rules found');
    expect(r.code).toBe(0);
  });

  it('has the alerts the issue asks for, each with a severity and a summary', () => {
    expect(alerts).toEqual([
      'WalshipReplicaLagHigh',
      'WalshipReplicaSyncErrors',
      'WalshipReplicaBacklogOverflow',
      'WalshipReplicaNoRecentSync',
      'WalshipValidationMismatch',
      'WalshipFullCaptures',
    ]);
    const rules = (parse(readFileSync(rulesFile, 'utf8')) as { groups: Array<{ rules: Array<{ labels?: { severity?: string }; annotations?: { summary?: string } }> }> }).groups.flatMap((g) => g.rules);
    for (const r of rules) {
      expect(['info', 'warning', 'critical']).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toMatch(/^walship /);
    }
  });

  it('passes its promtool unit tests, in which every alert fires at least once', () => {
    const r = promtool(['test', 'rules', testsFile], rulesDir);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
    const tests = parse(readFileSync(testsFile, 'utf8')) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
    const firing = new Set(tests.tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    expect([...firing].sort()).toEqual([...alerts].sort());
  });

  it.each(alerts)('fails its unit tests when %s never fires', (alert) => {
    const dir = mkdtempSync(path.join(scratch, 'mut-'));
    const doc = parse(readFileSync(rulesFile, 'utf8')) as RuleFile;
    for (const g of doc.groups) for (const r of g.rules) if (r.alert === alert) r.expr = 'vector(1) == 0';
    writeFileSync(path.join(dir, 'walship.rules.yml'), stringify(doc));
    copyFileSync(testsFile, path.join(dir, 'walship.rules.test.yml'));
    const r = promtool(['test', 'rules', 'walship.rules.test.yml'], dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`alertname: ${alert}`);
  });
});
