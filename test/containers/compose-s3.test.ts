// compose.yaml's `s3` profile end to end: the demo app replicated by walship to an S3 server
// container (versitygw, under the image name a user pulls: versity/versitygw:v1.8.0, here the
// local stand-in of s3-standin.ts, built by global setup when missing), credentials through the
// environment only. Then: the bucket holds Litestream's S3 layout, a restore from the bucket (walship
// in a container on the project's network) is exactly the app's database, a stop ships
// everything and the bucket restores exactly the final state, and the secret is in no log.
//
// On Docker: docker-compose 1.29 with `--profile s3`, naming s3-app and s3-walship so the SFTP
// demo stays down. On Podman: podman-compose 1.0.3 (no profiles, no depends_on conditions), in
// the README's steps: the server, then the restore to its end, then app and sidecar.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IMAGES,
  NODE_IMAGE,
  appStats,
  createVolume,
  engine,
  exitCodeOf,
  expectReplicaCaughtUp,
  isPodman,
  jsonLogs,
  logsOf,
  readDb,
  removeQuietly,
  repoRoot,
  uniqueName,
  waitFor,
  type DbState,
} from './docker.js';
import { ComposeProject } from './compose-project.js';
import { VERSITYGW_IMAGE } from './s3-standin.js';
import { freePort } from '../helpers/ports.js';

describe(`compose.yaml profile s3 with ${isPodman ? 'podman-compose' : 'docker-compose standalone'}`, () => {
  const project = uniqueName('walships3').replace(/-/g, '');
  const accessKey = `walship-test-${randomBytes(4).toString('hex')}`;
  const secretKey = `secret-${randomBytes(12).toString('hex')}`;
  const network = `${project}_default`;
  const dataVolume = `${project}_s3-data`;
  let p: ComposeProject;
  let appPort: number;

  /** Restores the bucket's latest state with the demo's walship-s3.yml into a scratch volume, and reads it. */
  async function restoreFromBucket(): Promise<DbState> {
    const scratch = await createVolume(uniqueName('walship-s3-check'));
    try {
      await engine([
        'run', '--rm', '--network', network, '--read-only', '--tmpfs', '/tmp',
        '-e', `AWS_ACCESS_KEY_ID=${accessKey}`, '-e', `AWS_SECRET_ACCESS_KEY=${secretKey}`,
        '-v', `${path.join(repoRoot, 'images', 'walship', 'walship-s3.yml')}:/etc/walship/walship.yml:ro`, '-v', `${scratch}:/data`,
        IMAGES.walship, 'restore', '-config', '/etc/walship/walship.yml', '/data/cache.db',
      ], { timeoutMs: 60_000 });
      return await readDb(scratch);
    } finally {
      await removeQuietly('volume', [scratch]);
    }
  }

  beforeAll(async () => {
    for (const [built, named] of [[IMAGES.walship, 'walship:local'], [IMAGES.app, 'walship-demo-app:local']] as const) {
      await engine(['tag', built, named]);
    }
    expect((await engine(['image', 'inspect', VERSITYGW_IMAGE], { allowFail: true })).code, `${VERSITYGW_IMAGE} (global setup builds a stand-in)`).toBe(0);
    appPort = await freePort();
    p = new ComposeProject(project, {
      ...process.env,
      NODE_IMAGE,
      S3_APP_PORT: String(appPort),
      VERSITYGW_IMAGE,
      S3_ACCESS_KEY: accessKey,
      S3_SECRET_KEY: secretKey,
    });
    const started = Date.now();
    if (isPodman) {
      await p.step(['up', '-d', 's3']);
      await waitFor('the s3 server to run', async () => ((await p.status('s3')) === 'running' ? true : undefined), 30_000);
      await p.step(['up', '-d', 's3-restore']);
      expect(await p.exited('s3-restore')).toBe(0);
      await p.step(['up', '-d', 's3-app', 's3-walship']);
    } else {
      await p.step(['up', '-d', 's3-app', 's3-walship'], { profiles: ['s3'] });
    }
    console.log(`${isPodman ? 'podman' : 'docker'}-compose up (profile s3) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(async () => {
    if (p) await p.down(['s3']);
  }, 180_000);

  it('replicates the demo app to the bucket, in Litestream\'s S3 layout, and the bucket restores exactly', async () => {
    const restore = await p.containerOf('s3-restore');
    expect(await exitCodeOf(restore)).toBe(0);
    expect((await jsonLogs(restore)).some((l) => l.event === 'restore_skipped' && l.reason === 'replica empty')).toBe(true);
    await waitFor('the app to count 20 writes', async () => ((await appStats(appPort)).writes >= 20 ? true : undefined), 60_000);

    // Objects in the server's directory: bucket walship, <path>/<level as 4 hex digits>/<min>-<max>.ltx.
    const objects = await waitFor('LTX objects in the bucket', async () => {
      const r = await engine(['run', '--rm', '-v', `${project}_s3:/s3:ro`, '--entrypoint', 'find', IMAGES.app, '/s3/walship/cache.db', '-name', '*.ltx']);
      const files = r.stdout.split('\n').filter(Boolean);
      return files.length >= 2 ? files : undefined;
    }, 30_000, 1000);
    expect(objects.every((f) => /^\/s3\/walship\/cache\.db\/[0-9a-f]{4}\/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/.test(f)), objects.join('\n')).toBe(true);

    const n = await expectReplicaCaughtUp({ appId: await p.containerOf('s3-app'), dataVolume, restore: restoreFromBucket, timeoutMs: 60_000 });
    expect(n).toBeGreaterThanOrEqual(20);
    const walship = await p.containerOf('s3-walship');
    expect((await jsonLogs(walship)).filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it('a stop ships everything to the bucket; the bucket restores the final state; no log holds the secret', async () => {
    // The app is paused, not stopped, before the sidecar stops: on Podman 4.3 a container leaving
    // the network could leave new connections from the sidecar to the server unanswered for 30 s
    // (name lookups of the network's DNS while it reloads, most likely), and the S3 client opens
    // new connections where SFTP keeps its one. Paused mid-write is also the harder final state:
    // the sidecar must ship the last commit and nothing of a transaction still open.
    const app = await p.containerOf('s3-app');
    await engine(['pause', app]);
    try {
      await p.step(['stop', '-t', '60', 's3-walship'], { profiles: ['s3'] });
      const walship = await p.containerOf('s3-walship');
      expect(await exitCodeOf(walship), (await logsOf(walship)).slice(-4000)).toBe(0);
      const stopped = (await jsonLogs(walship)).filter((l) => l.event === 'stopped').pop();
      expect(stopped?.shipped, JSON.stringify(stopped)).toBe(true);

      // Read while the app is still paused: its committed state is final.
      const final = await readDb(dataVolume);
      expect(final.integrity).toBe('ok');
      expect(final.writes).toBeGreaterThanOrEqual(20);
      const restored = await restoreFromBucket();
      expect({ writes: restored.writes, rows: restored.rows, digest: restored.digest, integrity: restored.integrity }).toEqual({ writes: final.writes, rows: final.rows, digest: final.digest, integrity: 'ok' });
    } finally {
      await engine(['unpause', app]);
    }

    for (const service of ['s3-restore', 's3-walship', 's3']) {
      const text = await logsOf(await p.containerOf(service));
      expect(text.includes(secretKey), `${service}'s log holds the secret key`).toBe(false);
    }
  }, 240_000);
});
