// The container tests on their own, on Docker:
//   npx vitest run --config test/containers/vitest.config.ts
// and on Podman (its Docker-compatible API; see with-podman.sh):
//   test/containers/with-podman.sh npx vitest run --config test/containers/vitest.config.ts
// Needs Docker (bash .ci/docker-setup.sh) and, for the second, Podman (scripts/setup-podman.sh).
// global-setup.ts builds the three images before any file starts (about 100 s on two idle cores
// for walship's native modules, nothing when cached), and the S3 server's stand-in image when its
// name is missing (s3-standin.ts, a few seconds); on Podman they are copied from Docker.
//
// The two passes run the same files, except: podman-kube.test.ts (podman kube play) only on
// Podman, and k8s-manifests.test.ts and k8s-read-replica.test.ts (no engine at all) only in the
// Docker pass.
import { defineConfig } from 'vitest/config';

const podman = process.env.WALSHIP_ENGINE === 'podman';

export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/containers/**/*.test.ts'],
    globalSetup: ['test/containers/global-setup.ts'],
    exclude: [...(podman ? ['test/containers/k8s-manifests.test.ts', 'test/containers/k8s-read-replica.test.ts'] : ['test/containers/podman-kube.test.ts']), '**/node_modules/**'],
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
