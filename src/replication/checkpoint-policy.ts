// Which checkpoint walship runs after a capture: a pure decision, so it can be tested alone.
import type { CheckpointMode } from '../sqlite/checkpoint.js';

export interface CheckpointThresholds {
  /** PASSIVE once this many frames were captured since walship's last checkpoint. */
  minCheckpointPageN: number;
  /** TRUNCATE once the WAL holds this many frames. */
  truncatePageN: number;
  /** PASSIVE of a WAL with new frames under the threshold, after this long without one. */
  checkpointIntervalMs: number;
}

export interface WalState {
  /** Frames in the WAL up to the captured position (0 when the WAL is empty or gone). */
  walFrames: number;
  /** Frames captured since walship's last checkpoint of this WAL generation. */
  framesSinceCheckpoint: number;
  /** Milliseconds since walship's last checkpoint. */
  msSinceCheckpoint: number;
}

export function chooseCheckpoint(s: WalState, t: CheckpointThresholds): CheckpointMode | null {
  if (s.walFrames === 0) return null;
  if (s.walFrames >= t.truncatePageN) return 'TRUNCATE';
  if (s.framesSinceCheckpoint >= t.minCheckpointPageN) return 'PASSIVE';
  if (s.framesSinceCheckpoint > 0 && s.msSinceCheckpoint >= t.checkpointIntervalMs) return 'PASSIVE';
  return null;
}

/** When an idle WAL with uncheckpointed frames is due its PASSIVE, or null when none is due. */
export function idleCheckpointDueAt(s: WalState, lastCheckpointAt: number, t: CheckpointThresholds): number | null {
  return s.walFrames > 0 && s.framesSinceCheckpoint > 0 ? lastCheckpointAt + t.checkpointIntervalMs : null;
}
