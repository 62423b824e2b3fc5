// Validation: restore a replica at a TXID into a temporary file and compare its checksum with the
// live database's at the same TXID. A mismatch means the replica would not give back the database.
import { promises as fsp } from 'node:fs';
import { formatTXID } from '../ltx/format.js';
import type { ReplicaClient } from '../replica/client.js';
import { listReplica } from '../replica/listing.js';
import { applyPlan } from '../restore/apply.js';
import { planRestore } from '../restore/plan.js';
import { checksumDatabaseFile } from '../sqlite/db-file-checksum.js';

export interface ValidationResult {
  replica: string;
  txid: number;
  ok: boolean;
  expected: string;
  actual: string | null;
  error: string | null;
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
    const fh = await fsp.open(tmpPath, 'r');
    const actual = await checksumDatabaseFile(fh, tmpPath).finally(() => fh.close());
    return { ...base, ok: actual.checksum === expected, actual: hex(actual.checksum), error: null };
  } catch (err) {
    return { ...base, ok: false, actual: null, error: `cannot restore TXID ${formatTXID(txid)}: ${(err as Error).message}` };
  } finally {
    await fsp.rm(tmpPath, { force: true });
  }
}

function hex(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}
