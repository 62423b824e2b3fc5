// The container tests on their own: npx vitest run --config test/containers/vitest.config.ts
// Needs Docker (bash .ci/docker-setup.sh). The first file to start builds the three images
// (about 100 s on two cores for walship's native modules); the others wait for it and hit the cache.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/containers/**/*.test.ts'],
    // Generous: CI machines have run the same tests four times slower than these.
    testTimeout: 360_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
    // Scenarios inside a file share containers and run in order.
    sequence: { concurrent: false },
    reporters: ['default'],
    // Inside a container (/.dockerenv), testcontainers would reach published ports through the
    // bridge gateway; ours are published on 127.0.0.1 only, and tests talk to nothing else.
    env: { TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1' },
  },
});
