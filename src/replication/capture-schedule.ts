// When a database is captured: pure decisions, no timers (DbReplicator holds those).
//
// Capture is what moves walship's read pin, and so what lets the application's own checkpoints
// finish, so it follows the database closely; uploading is what costs, and it follows the sync
// interval (the shipper merges what waits). A commit is captured:
//   - with sync-interval 0, at once after a quiet spell; while commits keep coming, no sooner than
//     GROUP_COMMIT_GATHER_MS after the last capture, and commits arriving while the last file is
//     still being uploaded wait for that upload (group commit): both go together into the next file;
//   - otherwise at most once per capture window: the shortest sync interval of the database's
//     replicas, and never longer than monitor-interval, so the WAL and the pin keep moving even
//     when the replica is only written every five minutes. The window is the poll's period, and the
//     WAL is not watched then (its events would only wake walship to wait).
// A change to the database file itself means a checkpoint is copying frames, and may be waiting
// for walship's pin: that is captured at once, whatever the window.

export type CaptureTrigger =
  /** The WAL changed (a commit). */
  | 'wal'
  /** The database file changed (a checkpoint). */
  | 'db'
  /** The fallback poll, for changes no event reported. */
  | 'poll'
  /** A timed job (an idle checkpoint, a snapshot) wants a pass. */
  | 'due';

/** How long WAL and database events are gathered before a capture runs, at the least. */
export const COALESCE_MS = 3;

/**
 * Group commit at sync-interval 0s: the least time from one capture to the next while commits keep
 * coming. A commit after a quiet spell is captured at once; under a steady stream, at most one file
 * in this time goes up from commits, so files per second stop rising with the rate. Measured at
 * 100 tx/s against SFTP on loopback, 30 s, two runs each: 25 ms gave about 38 files a second, 2.3-2.5
 * CPU s and lag p99 30 ms; 35 ms 27 files, 2.0 s and 41 ms; 40 ms 24 files, 1.85-1.9 s and 46-47 ms.
 * Each file costs about 2 ms of CPU, and bigger files cost more each, so the CPU falls less than
 * the files do. The lag goal is half of Litestream's 100 ms-monitor, 10 ms-sync setting (lag p99
 * about 105 ms), the CPU goal twice that setting's; of these windows only 40 ms meets both.
 */
export const GROUP_COMMIT_GATHER_MS = 40;

/**
 * How long from `now` a capture asked for by `trigger` waits. A change to the database file (a
 * checkpoint, which may wait for walship's pin), the poll and timed jobs wait only COALESCE_MS; a
 * commit seen with capture window 0 waits until GROUP_COMMIT_GATHER_MS after the last capture that
 * wrote a file (`lastCaptureAt`, ms since epoch; 0 for none).
 */
export function captureDelayMs(trigger: CaptureTrigger, windowMs: number, lastCaptureAt: number, now: number): number {
  if (trigger !== 'wal' || windowMs > 0) return COALESCE_MS;
  return Math.max(COALESCE_MS, Math.min(GROUP_COMMIT_GATHER_MS, lastCaptureAt + GROUP_COMMIT_GATHER_MS - now));
}

/** The capture window for a database: see above. */
export function captureWindowMs(syncIntervalsMs: readonly number[], monitorIntervalMs: number): number {
  return Math.max(0, Math.min(monitorIntervalMs, ...syncIntervalsMs));
}

/**
 * Group commit: how long a capture with window 0 waits for uploads in flight before it runs
 * anyway. The bound keeps a slow or dead replica from holding capture (and the pin) back.
 */
export const GROUP_COMMIT_MAX_WAIT_MS = 100;
