// The oracle: a restored database must pass integrity_check and hold exactly transactions 1..k,
// each with the payload its number determines.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
// @ts-expect-error: plain ESM helper shared with the writer processes
import { payloadFor } from './payload.mjs';

const payloadOf = payloadFor as (n: number, kind: string) => Buffer;

export interface OracleResult {
  /** Highest transaction present; the rows are exactly 1..k. */
  k: number;
}

export function checkRestored(dbPath: string, payloadKind: string): OracleResult {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`${dbPath}: integrity_check says ${String(integrity)}`);
    const rows = db.prepare('SELECT n, payload FROM tx ORDER BY n').all() as Array<{ n: number; payload: Buffer }>;
    rows.forEach((r, i) => {
      if (r.n !== i + 1) throw new Error(`${dbPath}: transaction ${i + 1} is missing (found ${r.n} at position ${i + 1})`);
      if (!r.payload.equals(payloadOf(r.n, payloadKind))) throw new Error(`${dbPath}: transaction ${r.n} has the wrong payload`);
    });
    const k = rows.length;
    const last = db.prepare("SELECT v FROM meta WHERE k = 'last'").get() as { v: number } | undefined;
    if ((last?.v ?? 0) !== k) throw new Error(`${dbPath}: meta.last is ${last?.v}, but transactions reach ${k} (torn transaction)`);
    return { k };
  } finally {
    db.close();
  }
}

/** `sqlite3 .dump` of a database: the full logical content, for exact comparison after a clean stop. */
export function dump(dbPath: string): string {
  return execFileSync('sqlite3', [dbPath, '.dump'], { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' });
}
