// The node flags walship runs with (src/cli/main.ts says why each) are written in three places: the
// bin's shebang, the image's ENTRYPOINT and the systemd unit's ExecStart. They must agree, or the
// container or the unit would run walship with other memory and CPU settings than the ones measured.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { repoRoot } from '../helpers/processes.js';

const read = (...p: string[]): string => readFileSync(path.join(repoRoot, ...p), 'utf8');

function shebangFlags(): string[] {
  const m = /^#!\/usr\/bin\/env -S node((?: --[^\s]+)*)\n/.exec(read('src', 'cli', 'main.ts'));
  expect(m, 'src/cli/main.ts starts with a node shebang').not.toBeNull();
  return m![1]!.trim().split(' ');
}

function entrypointFlags(): string[] {
  const line = read('Dockerfile').split('\n').find((l) => l.startsWith('ENTRYPOINT '));
  expect(line, 'the Dockerfile has an ENTRYPOINT').toBeDefined();
  const argv = JSON.parse(line!.slice('ENTRYPOINT '.length)) as string[];
  expect(argv[0]).toBe('node');
  expect(argv[argv.length - 1]).toBe('/app/dist/cli/main.js');
  return argv.slice(1, -1);
}

function execStartFlags(): string[] {
  const line = read('deploy', 'systemd', 'walship.service').split('\n').find((l) => l.startsWith('ExecStart='));
  expect(line, 'the unit has an ExecStart').toBeDefined();
  const argv = line!.slice('ExecStart='.length).split(' ');
  expect(argv[0]).toBe('/usr/bin/node');
  return argv.slice(1, argv.findIndex((a) => a.endsWith('/dist/cli/main.js')));
}

test('the image and the systemd unit run node with the bin shebang flags', () => {
  const flags = shebangFlags();
  expect(flags).toContain('--interrupt-budget=1000000');
  expect(entrypointFlags()).toEqual(flags);
  expect(execStartFlags()).toEqual(flags);
});
