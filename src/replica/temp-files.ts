// Which leftover temporary upload files a sweep may remove, and when the next sweep is due. Pure:
// the backends list and remove; this decides.
//
// A temporary file (layout.tempFileName) is stale when nothing touched it for longer than a bound.
// "Touched" is the later of its mtime and atime: every write of an upload moves the mtime, and the
// step that sets the final mtime (the LTX header's timestamp, which may be old) sets the atime to
// the upload's own time, so an upload in progress never looks old. The bound is compared with this
// machine's clock: it must be far longer than any skew between the clocks and any pause between
// two writes of a live upload, hence minutes.
import { isTempFileName } from './layout.js';

/** Leftovers untouched for this long are removed (15 minutes). */
export const DEFAULT_TEMP_FILE_MAX_AGE_MS = 15 * 60_000;
/** A sweep that could not remove something tries again this much later, at the next write. */
export const DEFAULT_SWEEP_RETRY_MS = 60_000;

export interface DirEntryTimes {
  name: string;
  /** Modification and access times, in ms since the epoch. */
  mtimeMs: number;
  atimeMs: number;
}

export interface SweepDecision {
  /** Names to remove: stale temporary files. */
  remove: string[];
  /** When the youngest temporary file left alone turns stale (ms since the epoch), or null if none was left. */
  nextDueAt: number | null;
}

/**
 * Picks the stale temporary files among a directory's entries. Names in `inUse` (this process's
 * own uploads in flight) are never removed, whatever their times say.
 */
export function staleTempFiles(entries: DirEntryTimes[], now: number, maxAgeMs: number, inUse: ReadonlySet<string> = new Set()): SweepDecision {
  const remove: string[] = [];
  let nextDueAt: number | null = null;
  for (const e of entries) {
    if (!isTempFileName(e.name) || inUse.has(e.name)) continue;
    const touched = Math.max(e.mtimeMs, e.atimeMs);
    if (now - touched > maxAgeMs) {
      remove.push(e.name);
    } else {
      const due = touched + maxAgeMs + 1;
      nextDueAt = nextDueAt === null ? due : Math.min(nextDueAt, due);
    }
  }
  return { remove, nextDueAt };
}

/**
 * When a backend sweeps: at its first write, again after each reconnect, when a temporary file it
 * left alone turns stale, and a while after a sweep that failed. Never on its own timer: an idle
 * replicator sends nothing.
 */
export class SweepSchedule {
  private dueAt = 0;

  constructor(private readonly retryMs = DEFAULT_SWEEP_RETRY_MS) {}

  isDue(now = Date.now()): boolean {
    return now >= this.dueAt;
  }

  /** Due at the next write (start, a new connection). */
  markDue(): void {
    this.dueAt = 0;
  }

  /** Records a sweep's outcome: `nextDueAt` from the decisions, `failed` if a listing or removal failed. */
  swept(nextDueAt: number | null, failed: boolean, now = Date.now()): void {
    let due = nextDueAt ?? Number.POSITIVE_INFINITY;
    if (failed) due = Math.min(due, now + this.retryMs);
    this.dueAt = due;
  }
}
