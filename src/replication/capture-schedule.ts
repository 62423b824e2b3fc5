// When a database is captured: pure decisions, no timers (DbReplicator holds those).
//
// Capture is what moves walship's read pin, and so what lets the application's own checkpoints
// finish, so it follows the database closely; uploading is what costs, and it follows the sync
// interval (the shipper merges what waits). A commit is captured:
//   - with sync-interval 0, at once, except that commits arriving while the last capture is still
//     being uploaded wait for that upload and go together into the next file (group commit);
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

/** The capture window for a database: see above. */
export function captureWindowMs(syncIntervalsMs: readonly number[], monitorIntervalMs: number): number {
  return Math.max(0, Math.min(monitorIntervalMs, ...syncIntervalsMs));
}

/**
 * Group commit: how long a capture with window 0 waits for uploads in flight before it runs
 * anyway. The bound keeps a slow or dead replica from holding capture (and the pin) back.
 */
export const GROUP_COMMIT_MAX_WAIT_MS = 100;
