import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container tests run second, with their own config (see the test script in package.json).
    exclude: ['test/containers/**', '**/node_modules/**'],
    // Generous: CI machines have run the same tests four times slower than these; a hang still ends.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: integration tests run real writers, sshd and replicators side by side.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
