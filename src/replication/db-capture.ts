// Capture for one database: reads newly committed WAL frames from the last position and writes
// them as a level-0 LTX file into staging. Continuity is checked on every pass; when it cannot be
// proven, the next file holds every page (a snapshot), and the reason is reported.
import { fstatSync, promises as fsp, statSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { LtxEncoder } from '../ltx/encoder.js';
import { ltxHeader } from '../ltx/format.js';
import { peekLtxHeader } from '../ltx/decoder.js';
import { DatabaseChecksum } from '../ltx/db-checksum.js';
import type { LtxFileInfo } from '../replica/client.js';
import { LEVELS, SNAPSHOT_LEVEL } from '../replica/layout.js';
import { Checkpointer, type CheckpointMode, type CheckpointResult } from '../sqlite/checkpoint.js';
import { parseDbHeader } from '../sqlite/db-header.js';
import { PinnedReader } from '../sqlite/pinned-reader.js';
import { WalFile } from '../sqlite/wal-file.js';
import { WalIndex } from '../sqlite/wal-index.js';
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, type RunningChecksum } from '../sqlite/wal-format.js';
import { checksumAt, readWalHeader, scanWal, type WalScan } from '../sqlite/wal-scanner.js';
import { PageSource } from '../sqlite/page-source.js';
import { checksumDatabaseFile } from '../sqlite/db-file-checksum.js';
import type { CleanStop, Staging } from './staging.js';
import { allPages, changedPages, encodeChunks } from './capture-pages.js';
import { filesLook, IdleMoves } from './idle-look.js';
import { readAt, statOrNull } from '../util/fs.js';

export interface CapturePosition {
  txid: number;
  /** WAL offset just past the last captured commit frame; 0 when no WAL position is known. */
  walOffset: number;
  salt1: number;
  salt2: number;
  commit: number;
  pageSize: number;
}

export interface CaptureResult {
  l0: LtxFileInfo | null;
  snapshot: LtxFileInfo | null;
  /** Why the level-0 file holds every page, when it does. */
  fullReason: string | null;
  commitFrames: number;
  /** The database checksum at `txid`, when asked for (validation). */
  checksum: { txid: number; value: bigint } | null;
}

export interface CaptureOptions {
  /** Also stage a level-9 snapshot at the captured position. */
  snapshot: boolean;
  /**
   * Do nothing but the idle pin moves (IDLE_PIN_MOVES, idle-look.ts) when the database and WAL
   * files look exactly as at the last pass (size, modification time and inode, and the WAL index's
   * checkpoint state). For the fallback poll: an idle database costs two stats and a small read.
   */
  ifChanged?: boolean;
  /** Also checksum the whole database at the captured position. */
  checksum?: boolean;
}

export class DatabaseCapture {
  private pin: PinnedReader | null = null;
  /**
   * Held open for as long as the SQLite connections are. Closing any descriptor of the database file
   * drops every POSIX lock this process holds on it, SQLite's included; then the application's last
   * close could checkpoint and delete the WAL under us.
   */
  private dbFile: FileHandle | null = null;
  private checkpointer: Checkpointer | null = null;
  /** Opened after the pin's connection, closed after SQLite's connections (see WalIndex). */
  private walIndex: WalIndex | null = null;
  private readonly walFile: WalFile;
  private dbIno = 0;
  private pos: CapturePosition | null = null;
  /** A pin has been held without a break since the last capture, so a new WAL generation follows on. */
  private trusted = false;
  private forceFull: string | null = null;
  private txidFloor = 0;
  private positionLoaded = false;
  /** What the last clean stop recorded; lets a restart skip the full capture when nothing changed. */
  private cleanStop: CleanStop | null = null;
  /** The timestamp of the last file captured: stamps never go backwards. */
  private lastStamp = 0;
  /** How the database and WAL files looked (fileLook) at the last pass. */
  private lastLook = '';
  /** The last capture() was an ifChanged pass that found nothing changed. */
  skippedUnchanged = false;
  private readonly idleMoves = new IdleMoves();

  constructor(
    readonly dbPath: string,
    private readonly staging: Staging,
    private readonly log: Logger,
    private readonly busyTimeoutMs = 5000,
  ) {
    this.walFile = new WalFile(`${dbPath}-wal`);
  }

  get position(): CapturePosition | null {
    return this.pos;
  }

  /** WAL frames up to the captured position, for checkpoint decisions. */
  get capturedWalFrames(): number {
    if (!this.pos || this.pos.walOffset < WAL_HEADER_SIZE) return 0;
    return (this.pos.walOffset - WAL_HEADER_SIZE) / (this.pos.pageSize + WAL_FRAME_HEADER_SIZE);
  }

  /** A replica (or staging, `holder`) already holds TXIDs up to `txid`: never reuse them. */
  raiseTxidFloor(txid: number, holder = 'replica'): void {
    if (txid <= this.txidFloor) return;
    this.txidFloor = txid;
    if (this.pos && this.pos.txid < txid) {
      this.forceFull = `${holder} holds TXID ${txid}, beyond local TXID ${this.pos.txid}`;
    }
  }

  /** Loads the last position from staging. Returns the highest staged TXID. */
  async loadPosition(): Promise<number> {
    if (this.positionLoaded) return this.pos?.txid ?? 0;
    this.positionLoaded = true;
    await this.staging.removeTemporaryFiles();
    this.cleanStop = await this.staging.takeCleanStop();
    const l0 = await this.staging.list(0);
    const last = l0[l0.length - 1];
    if (last) {
      this.lastStamp = last.createdAt.getTime();
      const h = peekLtxHeader(await this.staging.read(0, last.minTXID, last.maxTXID));
      this.pos = {
        txid: last.maxTXID,
        walOffset: h.walOffset === 0 ? 0 : h.walOffset + h.walSize,
        salt1: h.walSalt1,
        salt2: h.walSalt2,
        commit: h.commit,
        pageSize: h.pageSize,
      };
    }
    // TXIDs any staged file holds are never used again, whatever the newest level-0 file says:
    // compacted files and snapshots can reach past it (level-0 files pruned, or a level-0 name lost
    // to a power cut while the compacted file's was fsynced).
    let maxStaged = 0;
    for (const level of LEVELS) for (const f of await this.staging.list(level)) maxStaged = Math.max(maxStaged, f.maxTXID);
    if (maxStaged > (this.pos?.txid ?? 0)) this.raiseTxidFloor(maxStaged, 'staging');
    return Math.max(this.pos?.txid ?? 0, maxStaged);
  }

  /**
   * Continues a history the database already holds (a promoted follower): the database file, with
   * no WAL, is the state at `pos.txid`, and `checksum` is its checksum now. The first capture then
   * goes on from there instead of capturing every page; if the file changed meanwhile, it does not.
   */
  adopt(pos: CapturePosition, checksum: bigint): void {
    this.positionLoaded = true;
    this.pos = pos;
    this.cleanStop = { txid: pos.txid, checksum };
  }

  /** Opens walship's connections. Returns false while the database does not exist yet. */
  async open(): Promise<boolean> {
    if (this.pin) return true;
    const st = await statOrNull(this.dbPath);
    if (!st) return false;
    await this.loadPosition();
    const dbFile = await fsp.open(this.dbPath, 'r');
    let pin: PinnedReader | null = null;
    try {
      pin = new PinnedReader(this.dbPath, this.busyTimeoutMs);
      pin.pin();
      this.checkpointer = new Checkpointer(this.dbPath, pin);
    } catch (err) {
      pin?.close();
      await dbFile.close();
      throw err;
    }
    this.pin = pin;
    this.walIndex = new WalIndex(this.dbPath);
    this.dbFile = dbFile;
    this.dbIno = st.ino;
    this.trusted = false;
    return true;
  }

  async close(): Promise<void> {
    this.checkpointer?.close();
    this.pin?.close();
    this.checkpointer = null;
    this.pin = null;
    this.trusted = false;
    // Only after SQLite's connections are closed (see dbFile and WalIndex).
    this.walIndex?.close();
    this.walIndex = null;
    await this.walFile.close();
    await this.dbFile?.close();
    this.dbFile = null;
  }

  /**
   * The idle poll, synchronous: when the database and WAL files (and the WAL index's checkpoint
   * state) look exactly as the last pass left them, moves the pin if it is one of the IDLE_PIN_MOVES
   * passes after a change (see capture()) and returns true; otherwise (or with no pin yet) returns
   * false and a capture pass is needed. Two stats and a 100-byte read, no promise: with a thousand
   * databases polled every second, the asynchronous stats' thread-pool round trips were most of an
   * idle sidecar's CPU. The files are local (SQLite's WAL needs shared memory, so no network file
   * system), so a stat does not block the event loop for long. Only call it while no other pass runs.
   */
  idlePass(): boolean {
    if (!this.pin || this.lastLook === '') return false;
    if (this.look(statSync(this.dbPath, { throwIfNoEntry: false }) ?? null, statSync(`${this.dbPath}-wal`, { throwIfNoEntry: false }) ?? null) !== this.lastLook) return false;
    this.idleMove();
    return true;
  }

  /** Pin moves so far (idle ones included), for tests and diagnosis. */
  get pinMoves(): number {
    return this.pin?.moves ?? 0;
  }

  /** SQLite connections this capture holds open now (1 for an idle database), for tests and diagnosis. */
  get connections(): number {
    return (this.pin?.connections ?? 0) + (this.checkpointer?.connections ?? 0);
  }

  /** How the files look now, for the idle poll (see filesLook). */
  private look(db: Stats | null, wal: Stats | null): string {
    return filesLook(db, wal, this.walIndex?.look() ?? '');
  }

  private idleMove(): void {
    const move = this.idleMoves.next();
    if (move === 'none') return;
    this.pin!.moveForward();
    // Idle from here: the pin stays put, so the connections that only moves and checkpoints use
    // are closed until the next change (a thousand idle databases held two of them each).
    if (move === 'move-and-release') {
      this.pin!.releaseSpare();
      this.checkpointer?.release();
    }
  }

  /** One capture pass. Returns null when there was nothing new (and nothing was written). */
  async capture(opts: CaptureOptions): Promise<CaptureResult | null> {
    // Synchronous: two stats of local files cost microseconds, a round through the thread pool each
    // cost more than the rest of an idle poll.
    const db = statSync(this.dbPath, { throwIfNoEntry: false }) ?? null;
    const wal = statSync(`${this.dbPath}-wal`, { throwIfNoEntry: false }) ?? null;
    const look = this.look(db, wal);
    // An idle poll ends here: two stats, the WAL index's 100 bytes, nothing else read. For
    // IDLE_PIN_MOVES passes after a change the pin still moves (two SQLite calls): a checkpoint of
    // the application's may be waiting for it to leave the WAL, and with the files as the last pass
    // left them, every frame in the WAL is captured, so moving it exposes nothing.
    this.skippedUnchanged = opts.ifChanged === true && look === this.lastLook && !opts.snapshot && this.pin !== null;
    if (this.skippedUnchanged) {
      this.idleMove();
      return null;
    }
    if (!(await this.ensureSameFile(db))) return null;
    this.lastLook = look;
    this.idleMoves.changed();
    // The pin moves before the WAL is read, so it never protects less than is captured.
    this.pin!.moveForward();
    const result = await this.captureLocked(opts);
    this.trusted = true;
    return result;
  }

  /**
   * Captures, then checkpoints (see Checkpointer). Returns every capture made on the way: one
   * before the checkpoint, and one of what was committed before the write barrier.
   */
  async checkpoint(mode: CheckpointMode): Promise<{ checkpoint: CheckpointResult | null; captures: CaptureResult[] }> {
    const captures: CaptureResult[] = [];
    const captureLocked = async (): Promise<void> => {
      const r = await this.captureLocked({ snapshot: false });
      if (r) captures.push(r);
      this.trusted = true;
      // The frames are about to leave the WAL: the file just written must keep its name (the
      // names before it were synced before the barrier, so the application's writers do not wait
      // for those).
      if (r?.l0) await this.staging.syncNames();
    };
    // Outside any lock: what is committed meanwhile, while a copy runs, so that little is left for
    // the barrier. The names are synced before frames are copied out of the WAL: that keeps the
    // history continuous across a power cut (losing them would only cost a full capture).
    const catchUp = async (): Promise<boolean> => {
      const r = await this.capture({ snapshot: false });
      if (r) captures.push(r);
      await this.staging.syncNames();
      return r?.l0 != null;
    };
    await catchUp();
    if (!this.checkpointer || !this.pin) return { checkpoint: null, captures };
    if (mode === 'PASSIVE') return { checkpoint: await this.checkpointer.passive(captureLocked, catchUp), captures };
    const checkpoint = await this.checkpointer.truncate(captureLocked, catchUp);
    if (checkpoint && checkpoint.busy === 0 && !checkpoint.writesRaced && this.pos) {
      // The WAL is empty now: nothing of it is left to count towards the next checkpoint. (Kept, the
      // old offset made every later pass choose TRUNCATE again: hundreds a second after a bulk load.)
      this.pos = { ...this.pos, walOffset: 0 };
    }
    if (checkpoint?.writesRaced) {
      // A commit may have been checkpointed and truncated before it was read.
      this.trusted = false;
      this.log.warn({ db: this.dbPath, event: 'checkpoint_race' }, 'a commit raced the TRUNCATE checkpoint; next capture takes a snapshot if the WAL restarted');
    }
    return { checkpoint, captures };
  }

  /**
   * True when the database file, without any WAL, is exactly the state of the last clean stop: the
   * WAL walship left was checkpointed into it and nothing else changed. Used once per start.
   */
  private async resumesCleanStop(): Promise<boolean> {
    const stop = this.cleanStop;
    this.cleanStop = null;
    if (!stop || !this.pos || stop.txid !== this.pos.txid || !this.dbFile) return false;
    const { checksum } = await checksumDatabaseFile(this.dbFile, this.dbPath);
    const same = checksum === stop.checksum;
    this.log.info({ db: this.dbPath, event: same ? 'resumed_clean_stop' : 'changed_since_clean_stop', txid: stop.txid }, same ? 'database is as walship left it; continuing without a full capture' : 'database changed while walship was stopped');
    return same;
  }

  /**
   * The timestamp a capture's files carry, which point-in-time restore goes by: the WAL's last
   * write, read after the scan, so no later than now and no earlier than the newest commit the scan
   * took (a commit writes its frames before it returns). With captures once per window, the time of
   * the capture itself would stamp a commit up to a window late, and a restore to a moment just after
   * that commit would leave it out.
   */
  private stampFor(wal: FileHandle | null): number {
    const now = Date.now();
    // Synchronous: an fstat of a local file.
    const walWrite = wal ? Math.ceil(fstatSync(wal.fd).mtimeMs) : now;
    this.lastStamp = Math.max(this.lastStamp, Math.min(now, walWrite));
    return this.lastStamp;
  }

  /** `st`: the database file's stat, when the caller has just taken it. */
  private async ensureSameFile(known?: Stats | null): Promise<boolean> {
    if (!this.pin) return this.open();
    const st = known === undefined ? await statOrNull(this.dbPath) : known;
    if (st && st.ino === this.dbIno) return true;
    this.log.warn({ db: this.dbPath, event: 'database_replaced' }, st ? 'database file was replaced; reopening' : 'database file was removed; waiting for it');
    await this.close();
    this.forceFull = 'database file was replaced';
    return this.open();
  }

  private async captureLocked(opts: CaptureOptions): Promise<CaptureResult | null> {
    return this.captureFrom(await this.walFile.current(), opts);
  }

  private async captureFrom(wal: FileHandle | null, opts: CaptureOptions): Promise<CaptureResult | null> {
    const header = wal ? readWalHeader(wal) : null;
    const pos = this.pos;
    let fullReason: string | null = this.forceFull ?? (pos ? null : 'first capture of this database');
    let start = WAL_HEADER_SIZE;
    let startChecksum: RunningChecksum | null = header ? { s1: header.checksum1, s2: header.checksum2 } : null;

    if (!fullReason && pos) {
      if (!header) {
        // Whatever the last capture saw, commits made while walship was not watching may since have
        // been checkpointed into the file and the WAL removed: only a clean stop's checksum says not.
        if (!this.trusted && !(await this.resumesCleanStop())) {
          fullReason = pos.walOffset > WAL_HEADER_SIZE ? 'WAL disappeared while walship was not watching' : 'database may have changed while walship was not watching';
        }
      } else if (pos.walOffset !== 0 && header.salt1 === pos.salt1 && header.salt2 === pos.salt2) {
        const ck = checksumAt(wal!, header, pos.walOffset);
        if (ck) {
          start = pos.walOffset;
          startChecksum = ck;
        } else {
          fullReason = 'last captured frame is no longer in the WAL';
        }
      } else if (!this.trusted && !(await this.resumesCleanStop())) {
        fullReason = 'WAL was restarted while walship was not watching';
      }
      // Trusted (or the database file is exactly as walship left it) and a new generation: the old
      // one was captured whole, so continue from its start.
    }

    const fromStart = fullReason !== null || opts.snapshot || opts.checksum === true;
    let scan: WalScan | null = null;
    if (header && wal) {
      scan = await scanWal(wal, header, fromStart ? WAL_HEADER_SIZE : start, fromStart ? { s1: header.checksum1, s2: header.checksum2 } : startChecksum!, this.walIndex?.maxFrame() ?? null);
      if (!fullReason && fromStart && scan.end < start) fullReason = 'WAL is shorter than the captured position';
    }
    const full = fullReason !== null;
    const newCommits = scan !== null && scan.end > (full ? WAL_HEADER_SIZE : start);
    if (!full && !newCommits && !opts.snapshot && !opts.checksum) return null;

    const db = this.dbFile!;
    // The database header only matters when the scan read no commit (which also gives the page size).
    const walCommit = scan?.commit ?? 0;
    const dbHead = walCommit > 0 ? null : parseDbHeader(await readAt(db, 0, 100));
    const pageSize = header?.pageSize ?? dbHead?.pageSize;
    if (!pageSize) return null; // created but not yet written: nothing to capture
    const commit = walCommit > 0 ? walCommit : await pageCount(db, dbHead?.pageCount ?? null, pageSize);
    const source = new PageSource(db, wal, scan?.pages ?? new Map(), pageSize, { db: this.dbPath, wal: `${this.dbPath}-wal` });
    const now = this.stampFor(wal);
    let txid = Math.max(pos?.txid ?? 0, this.txidFloor);
    let l0: LtxFileInfo | null = null;

    if (full || newCommits) {
      txid += 1;
      let pgnos: number[];
      if (full) {
        pgnos = allPages(commit, pageSize);
      } else {
        pgnos = changedPages(scan!.pages, start, pos?.commit ?? 0, commit, pageSize);
      }
      // Litestream, taking over a replica, reads the newest level-0 file's WALOffset + WALSize as its
      // WAL position. Zero makes it fail every sync; the WAL header's end with no salts makes it
      // start over with a snapshot, which is right when there was no WAL to continue.
      const walStart = header ? (full ? WAL_HEADER_SIZE : start) : WAL_HEADER_SIZE;
      const enc = await LtxEncoder.create(
        ltxHeader({
          pageSize,
          commit,
          minTXID: txid,
          maxTXID: txid,
          timestamp: now,
          walOffset: walStart,
          walSize: header && scan ? scan.end - walStart : 0,
          walSalt1: header?.salt1 ?? 0,
          walSalt2: header?.salt2 ?? 0,
        }),
      );
      l0 = await this.staging.write(0, txid, txid, encodeChunks(enc, source.pages(pgnos)), now);
      this.pos = {
        txid,
        walOffset: header && scan ? scan.end : 0,
        salt1: header?.salt1 ?? 0,
        salt2: header?.salt2 ?? 0,
        commit,
        pageSize,
      };
      this.forceFull = null;
      if (full) this.log.info({ db: this.dbPath, event: 'full_capture', txid, reason: fullReason, pages: pgnos.length }, 'captured every page');
    }

    let snapshot: LtxFileInfo | null = null;
    if (opts.snapshot && txid > 0) {
      const enc = await LtxEncoder.create(ltxHeader({ pageSize, commit, minTXID: 1, maxTXID: txid, timestamp: now }));
      snapshot = await this.staging.write(SNAPSHOT_LEVEL, 1, txid, encodeChunks(enc, source.pages(allPages(commit, pageSize))), now);
    }
    let checksum: CaptureResult['checksum'] = null;
    if (opts.checksum && txid > 0) {
      const sum = await DatabaseChecksum.create(pageSize);
      for await (const [pgno, data] of source.pages(allPages(commit, pageSize))) sum.add(pgno, data);
      checksum = { txid, value: sum.value };
    }
    return { l0, snapshot, fullReason, commitFrames: scan?.commitFrames ?? 0, checksum };
  }
}

async function pageCount(db: FileHandle, inHeader: number | null, pageSize: number): Promise<number> {
  if (inHeader !== null) return inHeader;
  const st = await db.stat();
  return Math.floor(st.size / pageSize);
}
