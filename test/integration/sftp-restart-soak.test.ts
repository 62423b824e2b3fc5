// A bounded soak for the stall once seen after an sshd restart (an upload on the new connection that
// got no answer): up to 100 kill -9 and restarts of sshd while uploads run. After every restart
// uploads must make progress again, no request may go unanswered long enough for the watchdog
// (5 s here) to fire, close must end in its grace, and every file reported written must be whole.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LtxFileInfo } from '../../src/replica/client.js';
import { SftpReplicaClient } from '../../src/replica/sftp.js';
import { captureLogger, ltxFixture, remoteNames, tempDir, waitUntil, within } from '../helpers/sftp-fixtures.js';
import { Sshd } from '../helpers/sshd.js';

const RESTARTS = 100;
/** The whole soak stops starting new rounds after this long, however many restarts it reached. */
const BUDGET_MS = 100_000;
const UPLOADERS = 3;

let sshd: Sshd;
let work: string;

beforeAll(async () => {
  sshd = await Sshd.start();
  work = await tempDir('sftp-soak');
});

afterAll(async () => {
  await sshd?.cleanup();
  if (work) await fsp.rm(work, { recursive: true, force: true });
});

describe('sshd restarts under load', () => {
  test(`up to ${RESTARTS} kill -9 and restarts: progress after each, no stall, bounded close, every written file whole`, async () => {
    const root = path.join(work, 'replica');
    const { logger, lines } = captureLogger();
    const c = new SftpReplicaClient(sshd.settings(), root, {
      logger,
      requestTimeoutMs: 5_000,
      keepaliveIntervalMs: 1_000,
      reconnectBaseMs: 20,
      reconnectMaxMs: 200,
    });
    // A few sizes, from one request to many in flight.
    const sizes = [700, 40_000, 300_000, 1_200_000];
    const fixtures = await Promise.all(sizes.map((s, i) => ltxFixture(work, 0, 1, 1, s + i)));
    const written = new Map<number, { info: LtxFileInfo; data: Buffer }>();
    let nextTXID = 1;
    let stopping = false;
    let failures = 0;

    const uploader = async (): Promise<void> => {
      for (let i = 0; i < 100_000 && !stopping; i++) {
        const txid = nextTXID++;
        const f = fixtures[txid % fixtures.length]!;
        const info = { ...f.info, minTXID: txid, maxTXID: txid };
        try {
          // Level-0 uploads are exclusive in the shipper: the rename path with its conflict check.
          await c.writeLtxFile(info, f.localPath, { exclusive: txid % 2 === 0 });
          written.set(txid, { info, data: f.data });
        } catch {
          failures++; // the connection went under it; the next round reconnects
        }
      }
    };
    const uploads = Array.from({ length: UPLOADERS }, uploader);

    const started = Date.now();
    let restarts = 0;
    const stuck: string[] = [];
    for (; restarts < RESTARTS && Date.now() - started < BUDGET_MS; restarts++) {
      await sshd.restart();
      const before = written.size;
      // Progress on the new connection: a stall would hold every uploader here.
      const progressed = await waitUntil(() => written.size > before + UPLOADERS, 15_000, 20);
      if (!progressed) {
        stuck.push(`restart ${restarts + 1}: no upload finished within 15 s`);
        break;
      }
    }
    stopping = true;
    await within(30_000, 'uploaders finishing', Promise.all(uploads));
    await within(20_000, 'close(5000)', c.close(5_000));
    console.info(`soak: ${restarts} restarts in ${Math.round((Date.now() - started) / 1000)} s, ${written.size} files written, ${failures} uploads failed and were retried`);

    const stalls = lines.filter((l) => l.includes('"event":"sftp_stalled"') || l.includes('"event":"sftp_close_cut"'));
    expect(stuck, `${stuck.join('\n')}\n${stalls.join('')}\nsshd:\n${sshd.logs.split('\n').slice(-40).join('\n')}`).toEqual([]);
    expect(stalls).toEqual([]);
    expect(restarts).toBeGreaterThan(0);

    // Every file reported written is there, whole; no temporary file is left.
    const reader = new SftpReplicaClient(sshd.settings(), root);
    try {
      const listed = new Map((await reader.listLtxFiles(0)).map((f) => [f.maxTXID, f]));
      for (const [txid, w] of written) {
        expect(listed.get(txid)?.size, `file ${txid}`).toBe(w.data.length);
      }
      // Contents of a sample across the run (every tenth), byte for byte.
      for (const [txid, w] of [...written].filter(([t]) => t % 10 === 0)) {
        expect((await reader.readLtxFile(w.info)).equals(w.data), `file ${txid}`).toBe(true);
      }
    } finally {
      await reader.close();
    }
    expect((await remoteNames(root, 0)).filter((n) => !n.endsWith('.ltx'))).toEqual([]);
  });
});
