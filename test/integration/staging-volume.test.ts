// Staging shares the application's volume: walship says when that volume is nearly full, with the
// free space, in a log line and a metric, and says again when it has room.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountTmpfs, type TmpfsMount } from '../helpers/mounts.js';
import { freePort } from '../helpers/ports.js';
import { runWriter, startWalship } from '../helpers/processes.js';

let mount: TmpfsMount | null = null;
afterEach(async () => {
  await mount?.cleanup();
  mount = null;
});

describe("the database's volume", () => {
  it('nearly full draws one volume_low warning with the free space, a metric, and volume_ok once room is back', async () => {
    mount = await mountTmpfs(64 * 1024 * 1024);
    const db = path.join(mount.dir, 'app.db');
    const replica = path.join(mount.dir, '..', `${path.basename(mount.dir)}-replica`);
    mkdirSync(replica, { recursive: true });
    const port = await freePort();
    const config = path.join(mount.dir, 'walship.yml');
    writeFileSync(config, `addr: 127.0.0.1:${port}\nlevels:\n  - interval: 1s\ndbs:\n  - path: ${db}\n    replicas:\n      - url: file://${replica}\n        sync-interval: 0s\n`);
    try {
      const walship = startWalship(['replicate', '-config', config]);
      await walship.waitForEvent('started');
      await runWriter('node', { db, from: 1, to: 20, payload: 'small', delayMs: 10 });
      // A 64 MiB volume is under the 256 MiB mark: the first prune (level 1 runs every second) says so.
      const low = await walship.waitForEvent('volume_low', 30_000);
      expect(low.freeBytes).toBeGreaterThan(0);
      expect(low.freeBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith('walship_volume_free_bytes{'));
      expect(line).toBeDefined();
      expect(Number(line!.split(' ').pop())).toBeGreaterThan(0);
      // Once, not at every prune.
      await new Promise((r) => setTimeout(r, 2500));
      expect(walship.logs().split('"event":"volume_low"').length - 1).toBe(1);
      // The volume grows (tmpfs can be resized in place): room again, said once.
      execFileSync('mount', ['-o', 'remount,size=1g', mount.dir], { stdio: 'pipe' });
      const ok = await walship.waitForEvent('volume_ok', 30_000);
      expect(ok.freeBytes).toBeGreaterThan(256 * 1024 * 1024);
      expect(await walship.stop()).toBe(0);
    } finally {
      rmSync(replica, { recursive: true, force: true });
    }
  });
});
