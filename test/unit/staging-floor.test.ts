// A start never reuses a TXID that staging holds at any level: a compacted file can reach past the
// newest level-0 file (level-0 files pruned once every replica had them, or a level-0 name lost to
// a power cut while the compacted file's directory was fsynced). Real staging files.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { LtxEncoder } from '../../src/ltx/encoder.js';
import { ltxHeader } from '../../src/ltx/format.js';
import { DatabaseCapture } from '../../src/replication/db-capture.js';
import { Staging } from '../../src/replication/staging.js';

async function* once(chunks: Buffer[]): AsyncGenerator<Buffer[]> {
  yield chunks;
}

async function stage(staging: Staging, level: number, minTXID: number, maxTXID: number): Promise<void> {
  const ts = 1_700_000_000_000 + maxTXID;
  const enc = await LtxEncoder.create(ltxHeader({ pageSize: 4096, commit: 1, minTXID, maxTXID, timestamp: ts }));
  await staging.write(level, minTXID, maxTXID, once([enc.begin(), ...enc.encodePage(1, Buffer.alloc(4096, maxTXID)), enc.finish()]), ts);
}

describe('staging: the TXID floor at a start', () => {
  it('is the highest TXID of any staged level, not only the newest level-0 file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-floor-'));
    try {
      const dbPath = path.join(dir, 'app.db');
      const staging = new Staging(dbPath);
      for (let t = 1; t <= 5; t++) await stage(staging, 0, t, t);
      await stage(staging, 1, 1, 8);
      const capture = new DatabaseCapture(dbPath, new Staging(dbPath), pino({ level: 'silent' }));
      expect(await capture.loadPosition()).toBe(8);
      expect(capture.position?.txid).toBe(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
