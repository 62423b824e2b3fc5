// Validation: restore a replica at a TXID into a temporary file and compare its checksum with the
// live database's at the same TXID. A mismatch means the replica would not give back the database.
import { promises as fsp } from 'node:fs';
import { DatabaseChecksum } from '../ltx/db-checksum.js';
import { formatTXID } from '../ltx/format.js';
import type { ReplicaClient } from '../replica/client.js';
import { listReplica } from '../replica/listing.js';
import { applyPlan } from '../restore/apply.js';
import { planRestore } from '../restore/plan.js';
import { parseDbHeader } from '../sqlite/db-header.js';

export interface ValidationResult {
  replica: string;
  txid: number;
  ok: boolean;
  expected: string;
  actual: string | null;
  error: string | null;
}

/** The LTX database checksum of a database file with no WAL (a restored file). */
export async function checksumDatabaseFile(file: string): Promise<bigint> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = Buffer.alloc(100);
    await fh.read(head, 0, 100, 0);
    const header = parseDbHeader(head);
    if (!header) throw new Error(`${file} is not a SQLite database`);
    const { size } = await fh.stat();
    const pages = Math.floor(size / header.pageSize);
    const sum = await DatabaseChecksum.create(header.pageSize);
    const buf = Buffer.alloc(header.pageSize);
    for (let pgno = 1; pgno <= pages; pgno++) {
      await fh.read(buf, 0, header.pageSize, (pgno - 1) * header.pageSize);
      sum.add(pgno, buf);
    }
    return sum.value;
  } finally {
    await fh.close();
  }
}

export async function validateReplica(
  name: string,
  client: ReplicaClient,
  txid: number,
  expected: bigint,
  tmpPath: string,
): Promise<ValidationResult> {
  const base = { replica: name, txid, expected: hex(expected) };
  try {
    const plan = planRestore(await listReplica(client), { txid });
    await applyPlan(client, plan, tmpPath, 'none');
    const actual = await checksumDatabaseFile(tmpPath);
    return { ...base, ok: actual === expected, actual: hex(actual), error: null };
  } catch (err) {
    return { ...base, ok: false, actual: null, error: `cannot restore TXID ${formatTXID(txid)}: ${(err as Error).message}` };
  } finally {
    await fsp.rm(tmpPath, { force: true });
  }
}

function hex(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}
