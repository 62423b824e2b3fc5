// What the idle poll compares, and how many idle passes still move the pin: pure bookkeeping,
// DatabaseCapture does the stats and the moves.
import type { Stats } from 'node:fs';

/**
 * Idle passes after a change that still move the pin; after them, files that stay as they are
 * leave it where it is. A moved pin takes a fresh read mark: one taken while an application's
 * checkpoint was still under way may be a WAL read mark that holds back a later TRUNCATE or
 * RESTART. The checkpoint's end changes the WAL index's nBackfill, which the idle poll's look
 * includes, so the pass after it moves the pin to the mark it now takes for good (read mark 0 once
 * every frame is in the database file); these idle moves are a second line. With nothing changed
 * since, another move takes that same mark again: two SQLite calls a poll, per database, for nothing.
 */
export const IDLE_PIN_MOVES = 2;

/** A file as seen from outside, without reading it: inode, size and modification time. */
export function fileLook(st: Stats | null): string {
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '-';
}

/**
 * How the files look, for the idle poll: the database's and the WAL's inode, size and mtime, and
 * how far the WAL is checkpointed (the WAL index's look). A checkpoint that ended after the last
 * pass is a change, so the next pass moves the pin to the read mark it would now take for good.
 */
export function filesLook(db: Stats | null, wal: Stats | null, walIndexLook: string): string {
  return `${fileLook(db)}|${fileLook(wal)}|${walIndexLook}`;
}

/** What one idle pass does with the pin. */
export type IdleMove = 'none' | 'move' | 'move-and-release';

/** Counts the idle passes that move the pin (IDLE_PIN_MOVES after each pass that found a change). */
export class IdleMoves {
  private left = 0;

  /** A pass found a change: the next idle passes move the pin again. */
  changed(): void {
    this.left = IDLE_PIN_MOVES;
  }

  /**
   * The next idle pass. The last move also releases the connections only moves and checkpoints
   * use: the pin stays put from there until the next change.
   */
  next(): IdleMove {
    if (this.left <= 0) return 'none';
    this.left--;
    return this.left === 0 ? 'move-and-release' : 'move';
  }
}
