import { expect, test } from 'vitest';
import { uniqueToken } from '../../src/util/unique-token.js';

test('uniqueToken gives eight hex digits, a different one on every call', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const t = uniqueToken();
    expect(t).toMatch(/^[0-9a-f]{8}$/);
    seen.add(t);
  }
  expect(seen.size).toBe(10_000);
});
