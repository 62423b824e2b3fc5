// Which replica files retention may delete. Pure. Two rules, both keeping every restore inside the
// window possible:
//  - snapshots older than the window go, except the newest one at or before the window's start
//    (the base a restore to that moment needs) and everything newer; files of levels 0-3 that end at
//    or before that base snapshot go with them;
//  - a level-0 file goes once a level-1 file covers it and it is older than l0-retention.
import type { LtxFileInfo } from '../replica/client.js';
import { SNAPSHOT_LEVEL } from '../replica/layout.js';

export interface RetentionPolicy {
  retentionMs: number;
  l0RetentionMs: number;
}

export function filesToDelete(listing: ReadonlyMap<number, readonly LtxFileInfo[]>, now: number, policy: RetentionPolicy): LtxFileInfo[] {
  const doomed: LtxFileInfo[] = [];
  const snapshots = [...(listing.get(SNAPSHOT_LEVEL) ?? [])].sort((a, b) => a.maxTXID - b.maxTXID);
  const windowStart = now - policy.retentionMs;
  // The base: newest snapshot created at or before the window's start, else the oldest there is.
  let base: LtxFileInfo | undefined;
  for (const s of snapshots) if (s.createdAt.getTime() <= windowStart) base = s;
  base ??= snapshots[0];
  if (base) {
    for (const s of snapshots) if (s.maxTXID < base.maxTXID) doomed.push(s);
    for (const level of [0, 1, 2, 3]) {
      for (const f of listing.get(level) ?? []) if (f.maxTXID <= base.maxTXID) doomed.push(f);
    }
  }
  const l1Max = (listing.get(1) ?? []).reduce((m, f) => Math.max(m, f.maxTXID), 0);
  for (const f of listing.get(0) ?? []) {
    if (doomed.includes(f)) continue;
    if (f.maxTXID <= l1Max && f.createdAt.getTime() <= now - policy.l0RetentionMs) doomed.push(f);
  }
  return doomed;
}
