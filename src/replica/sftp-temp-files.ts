// The temporary files of uploads to an SFTP replica: the ones this client abandoned when a
// connection went (removed after the next connect, or at close), and the sweep of stale ones any
// earlier run left (temp-files.ts decides which; this lists and removes them).
import { posix } from 'node:path';
import type { Logger } from 'pino';
import { levelDir, LEVELS } from './layout.js';
import { SFTP_STATUS, sftpStatus } from './sftp-io.js';
import type { SftpConnection } from './sftp-session.js';
import { DEFAULT_TEMP_FILE_MAX_AGE_MS, staleTempFiles, SweepSchedule } from './temp-files.js';

export interface SweepResult {
  removed: string[];
  errors: unknown[];
}

export class SftpTempFiles {
  /** Temporary files a lost connection kept us from removing; removed after the next connect. */
  private readonly orphans = new Set<string>();
  /** Temporary files of uploads in flight: never swept, whatever their times say. */
  private readonly uploading = new Set<string>();
  private readonly schedule: SweepSchedule;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly root: string,
    private readonly log: Logger | undefined,
    private readonly scrub: (text: string) => string,
    private readonly opts: { maxAgeMs?: number | undefined; retryMs?: number | undefined } = {},
  ) {
    this.schedule = new SweepSchedule(opts.retryMs);
  }

  get hasOrphans(): boolean {
    return this.orphans.size > 0;
  }

  /** An upload starts writing `tmp`; `done` when it is renamed or discarded. */
  inFlight(tmp: string): { done: () => void } {
    this.uploading.add(tmp);
    return { done: () => void this.uploading.delete(tmp) };
  }

  /** After each connect: the known leftovers go now, the sweep of stale ones after the next write. */
  async afterConnect(c: SftpConnection): Promise<void> {
    this.schedule.markDue();
    if (this.orphans.size > 0) await this.removeOrphans(c);
  }

  /** Removes a temporary file after a failure; if the connection is gone, after the next connect. */
  async discard(c: SftpConnection, tmp: string): Promise<void> {
    if (!c.lost) {
      try {
        await c.sftp.unlink(tmp);
        return;
      } catch (err) {
        if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return;
      }
    }
    this.orphans.add(tmp);
  }

  /** Removes the temporary files this client knows it abandoned. Never throws. */
  async removeOrphans(c: SftpConnection): Promise<void> {
    for (const tmp of [...this.orphans]) {
      try {
        await c.sftp.unlink(tmp);
        this.orphans.delete(tmp);
      } catch (err) {
        const code = sftpStatus(err);
        if (code === SFTP_STATUS.NO_SUCH_FILE) this.orphans.delete(tmp);
        else if (code === null) return;
        else this.log?.warn({ event: 'sftp_tmp_left', file: tmp, err: this.scrub(errorMessage(err)) }, 'cannot remove a temporary file');
      }
    }
  }

  /** After a write or delete: the sweep of stale temporary files, when one is due. Never throws. */
  async sweepIfDue(c: SftpConnection): Promise<void> {
    if (!this.sweeping && !this.schedule.isDue()) return;
    this.sweeping ??= (async () => {
      const { errors } = await this.sweep(c, this.opts.maxAgeMs ?? DEFAULT_TEMP_FILE_MAX_AGE_MS);
      if (errors.length > 0) {
        this.log?.warn({ event: 'tmp_sweep_failed', err: this.scrub(errorMessage(errors[0])) }, 'cannot sweep stale temporary files; trying again later');
      }
    })().finally(() => {
      this.sweeping = null;
    });
    await this.sweeping;
  }

  /** Removes temporary files in every level untouched for `olderThanMs`, and schedules the next sweep. */
  async sweep(c: SftpConnection, olderThanMs: number): Promise<SweepResult> {
    const now = Date.now();
    const result: SweepResult = { removed: [], errors: [] };
    let nextDueAt: number | null = null;
    for (const level of LEVELS) {
      const dir = levelDir(this.root, level);
      let entries;
      try {
        entries = await c.sftp.readdir(dir);
      } catch (err) {
        if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) continue;
        result.errors.push(err);
        if (c.lost) break;
        continue;
      }
      const inUse = new Set([...this.uploading].filter((p) => posix.dirname(p) === dir).map((p) => posix.basename(p)));
      // SFTP v3 times are whole seconds.
      const times = entries.filter((e) => e.attrs.isFile()).map((e) => ({ name: e.filename, mtimeMs: e.attrs.mtime * 1000, atimeMs: e.attrs.atime * 1000 }));
      const decision = staleTempFiles(times, now, olderThanMs, inUse);
      if (decision.nextDueAt !== null) nextDueAt = Math.min(nextDueAt ?? decision.nextDueAt, decision.nextDueAt);
      for (const name of decision.remove) {
        const file = posix.join(dir, name);
        try {
          await c.sftp.unlink(file);
          result.removed.push(file);
        } catch (err) {
          if (sftpStatus(err) !== SFTP_STATUS.NO_SUCH_FILE) result.errors.push(err);
        }
      }
    }
    this.schedule.swept(nextDueAt, result.errors.length > 0);
    if (result.removed.length > 0) {
      this.log?.info(
        { event: 'tmp_swept', removed: result.removed.length, files: result.removed.slice(0, 10), olderThanMs },
        'removed temporary files that interrupted uploads left',
      );
    }
    return result;
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
