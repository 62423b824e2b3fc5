// What `restore -dry-run` prints: the chosen replica and the files a restore would fetch, as text
// or, with -json, in the shape of Litestream 0.5's dry-run output (TXIDs as 16 hex digits). Pure.
import { formatTXID } from '../ltx/format.js';
import type { LtxFileInfo } from '../replica/client.js';
import { ltxFileName } from '../replica/layout.js';

export interface PlanReportFile {
  level: number;
  name: string;
  min_txid: string;
  max_txid: string;
  size: number;
  timestamp: string;
}

export interface PlanReport {
  source: string;
  target_path: string;
  replica: string;
  location: string;
  min_txid: string;
  max_txid: string;
  total_size: number;
  /** The output already exists: a restore without -if-db-not-exists would refuse. */
  target_exists: boolean;
  files: PlanReportFile[];
}

export function planReport(source: string, targetPath: string, replica: string, location: string, plan: readonly LtxFileInfo[], targetExists: boolean): PlanReport {
  return {
    source,
    target_path: targetPath,
    replica,
    location,
    min_txid: formatTXID(plan[0]?.minTXID ?? 0),
    max_txid: formatTXID(plan.at(-1)?.maxTXID ?? 0),
    total_size: plan.reduce((n, f) => n + f.size, 0),
    target_exists: targetExists,
    files: plan.map((f) => ({
      level: f.level,
      name: ltxFileName(f.minTXID, f.maxTXID),
      min_txid: formatTXID(f.minTXID),
      max_txid: formatTXID(f.maxTXID),
      size: f.size,
      timestamp: f.createdAt.toISOString(),
    })),
  };
}

/** The report as text: a few header lines, then one table row per file (header row first). */
export function planReportText(r: PlanReport): { header: string[]; rows: string[][] } {
  return {
    header: [
      'restore plan (dry run: nothing written)',
      `  source:     ${r.source}`,
      `  target:     ${r.target_path}${r.target_exists ? ' (exists: a restore would refuse to overwrite it)' : ''}`,
      `  replica:    ${r.replica} (${r.location})`,
      `  txid range: ${r.min_txid} - ${r.max_txid}`,
      `  files:      ${r.files.length}, ${r.total_size} bytes`,
    ],
    rows: [['LEVEL', 'FILE', 'MIN_TXID', 'MAX_TXID', 'SIZE', 'TIMESTAMP'], ...r.files.map((f) => [String(f.level), f.name, f.min_txid, f.max_txid, String(f.size), f.timestamp])],
  };
}
