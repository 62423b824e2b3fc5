import { describe, expect, it } from 'vitest';
import { expandEnv } from '../../src/config/expand-env.js';

const env = {
  HOST: 'replica.example',
  PORT: '2222',
  EMPTY: '',
  _UNDER: 'u',
  A1: 'a-one',
  A: 'a',
  NESTED: '$HOST',
};

describe('expandEnv', () => {
  it.each<[string, string]>([
    ['sftp://$HOST:$PORT/db', 'sftp://replica.example:2222/db'],
    ['sftp://${HOST}:${PORT}/db', 'sftp://replica.example:2222/db'],
    ['${HOST}suffix', 'replica.examplesuffix'],
    ['$_UNDER', 'u'],
    ['$A1', 'a-one'], // the longest name wins
    ['${A}1', 'a1'],
    ['$A-1', 'a-1'], // a name ends at the first character that cannot be in one
    ['$A.b', 'a.b'],
    ['$A$A', 'aa'],
    ['x: "$EMPTY"', 'x: ""'],
  ])('%s -> %s', (input, out) => {
    expect(expandEnv(input, env)).toBe(out);
  });

  it('replaces an unset variable with the empty string, as os.ExpandEnv does', () => {
    expect(expandEnv('a${MISSING}b$MISSING/c', env)).toBe('ab/c');
  });

  it('keeps the first "$" of "$$" but still expands a name after the second (Go would give "paword")', () => {
    expect(expandEnv('pa$$word', env)).toBe('pa$');
    expect(expandEnv('pa$$HOST', env)).toBe('pa$replica.example');
  });

  it('does not expand the value of a variable again', () => {
    expect(expandEnv('$NESTED', env)).toBe('$HOST');
  });

  it.each<[string, string]>([
    ['cost: $$', 'cost: $$'], // Go's os.ExpandEnv would drop "$$" (the shell PID variable); walship keeps it
    ['cost: 5$', 'cost: 5$'],
    ['$1', '$1'], // Go would expand positional "$1" to ""; walship keeps it
    ['$ HOST', '$ HOST'],
    ['${HOST', '${HOST'], // unterminated
    ['${}', '${}'],
    ['${1X}', '${1X}'],
    ['$-x', '$-x'],
  ])('leaves %s as it is', (input, out) => {
    expect(expandEnv(input, env)).toBe(out);
  });

  it('expands over a whole multi-line YAML document', () => {
    const yaml = ['dbs:', '  - path: /data/${DB}', '    replica:', '      url: sftp://$USER@${HOST}:$PORT/backups/$DB', ''].join('\n');
    expect(expandEnv(yaml, { ...env, DB: 'cache.db', USER: 'walship' })).toBe(
      ['dbs:', '  - path: /data/cache.db', '    replica:', '      url: sftp://walship@replica.example:2222/backups/cache.db', ''].join('\n'),
    );
  });

  it('reads process.env by default', () => {
    process.env.WALSHIP_EXPAND_ENV_TEST = 'from-process';
    try {
      expect(expandEnv('x=$WALSHIP_EXPAND_ENV_TEST')).toBe('x=from-process');
    } finally {
      delete process.env.WALSHIP_EXPAND_ENV_TEST;
    }
  });
});
