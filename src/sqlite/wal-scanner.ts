// Reads committed frames from a WAL file, from a known position to the last valid commit frame.
import { fstatSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  FrameChecker,
  parseWalHeader,
  WAL_FRAME_HEADER_SIZE,
  WAL_HEADER_SIZE,
  type RunningChecksum,
  type WalHeader,
} from './wal-format.js';

/** Where the newest copy of a page sits in the WAL; `data` is kept while the scan is small. */
export interface WalPageRef {
  walOffset: number;
  data: Buffer | null;
}

export interface WalScan {
  header: WalHeader;
  start: number;
  /** Offset just past the last commit frame read; equals `start` when nothing was committed. */
  end: number;
  /** Database size in pages after the last commit read; 0 when nothing was committed. */
  commit: number;
  commitFrames: number;
  checksum: RunningChecksum;
  pages: Map<number, WalPageRef>;
}

/** Without a hint, the first read takes this many frames: most scans find nothing new, or a few frames. */
const FIRST_CHUNK_FRAMES = 8;
/**
 * The first read is synchronous and takes at most this many bytes: what a commit or a second of
 * commits just wrote is in the page cache.
 */
const FIRST_READ_MAX_BYTES = 2 * 1024 * 1024;
/** Later reads (a long scan: a WAL that grew meanwhile, or a large one) go through the thread pool. */
const READ_CHUNK_FRAMES = 256;
/** Above this many bytes of pages, keep offsets only and read pages again when encoding. */
const RETAIN_LIMIT = 16 * 1024 * 1024;

// The header and the checksum at the captured position are read synchronously: a few dozen bytes
// of a file the application has just written (in the page cache), where each asynchronous read was a
// trip through the thread pool on every capture pass.

export function readWalHeader(fh: FileHandle): WalHeader | null {
  const b = Buffer.alloc(WAL_HEADER_SIZE);
  const bytesRead = readSync(fh.fd, b, 0, WAL_HEADER_SIZE, 0);
  return bytesRead === WAL_HEADER_SIZE ? parseWalHeader(b) : null;
}

/** The running checksum at `offset`: taken from the header, or from the frame that ends there. */
export function checksumAt(fh: FileHandle, header: WalHeader, offset: number): RunningChecksum | null {
  if (offset === WAL_HEADER_SIZE) return { s1: header.checksum1, s2: header.checksum2 };
  const frameSize = WAL_FRAME_HEADER_SIZE + header.pageSize;
  if (offset < WAL_HEADER_SIZE + frameSize || (offset - WAL_HEADER_SIZE) % frameSize !== 0) return null;
  const b = Buffer.alloc(WAL_FRAME_HEADER_SIZE);
  const bytesRead = readSync(fh.fd, b, 0, WAL_FRAME_HEADER_SIZE, offset - frameSize);
  if (bytesRead !== WAL_FRAME_HEADER_SIZE) return null;
  if (b.readUInt32BE(8) !== header.salt1 || b.readUInt32BE(12) !== header.salt2) return null;
  return { s1: b.readUInt32BE(16), s2: b.readUInt32BE(20) };
}

/**
 * Scans frames from `start` (a commit boundary whose running checksum is `checksum`) and stops at
 * the first frame that is torn, from an older WAL generation, or past the end of the file.
 * Frames after the last commit frame are ignored: they belong to a transaction still in flight.
 * `framesHint` is how many frames the WAL should hold in all (the WAL index's mxFrame): the first
 * read then takes what lies past `start` and one frame more, so that a scan of what one capture
 * window wrote is one read. Without it, or when it is stale, the scan reads on in chunks; reads
 * never go past the file's size, which after a checkpoint holds old frames SQLite writes over.
 */
export async function scanWal(
  fh: FileHandle,
  header: WalHeader,
  start: number,
  checksum: RunningChecksum,
  framesHint: number | null = null,
): Promise<WalScan> {
  const frameSize = WAL_FRAME_HEADER_SIZE + header.pageSize;
  const scan: WalScan = { header, start, end: start, commit: 0, commitFrames: 0, checksum, pages: new Map() };
  let pending = new Map<number, WalPageRef>();
  /** The running checksum after the frames checked so far (committed or not). */
  const running: RunningChecksum = { s1: checksum.s1, s2: checksum.s2 };
  let offset = start;
  let retained = 0;
  let retain = true;

  const fileFrames = (at: number): number => Math.ceil((fstatSync(fh.fd).size - at) / frameSize);
  const startFrame = (start - WAL_HEADER_SIZE) / frameSize;
  const expected = framesHint !== null && framesHint > startFrame ? framesHint - startFrame + 1 : FIRST_CHUNK_FRAMES;
  let chunkFrames = Math.max(1, Math.min(expected, Math.floor(FIRST_READ_MAX_BYTES / frameSize), fileFrames(start)));
  for (let first = true; chunkFrames > 0; first = false, chunkFrames = Math.min(READ_CHUNK_FRAMES, fileFrames(offset))) {
    const chunk = Buffer.allocUnsafeSlow(frameSize * chunkFrames);
    // The first read is synchronous (see FIRST_READ_MAX_BYTES); the later ones of a long scan go
    // through the thread pool, so a scan of a large WAL that is not cached does not hold the event loop.
    const bytesRead = first ? readSync(fh.fd, chunk, 0, chunk.length, offset) : (await fh.read(chunk, 0, chunk.length, offset)).bytesRead;
    const whole = Math.floor(bytesRead / frameSize);
    const checker = new FrameChecker(header, chunk);
    let stopped = whole < chunkFrames;
    for (let i = 0; i < whole; i++) {
      const at = i * frameSize;
      const pgno = checker.check(at, running);
      if (pgno === 0) {
        stopped = true;
        break;
      }
      const frameOffset = offset + at;
      if (retain) retained += header.pageSize;
      pending.set(pgno, { walOffset: frameOffset, data: retain ? chunk.subarray(at + WAL_FRAME_HEADER_SIZE, at + frameSize) : null });
      const commit = checker.commitAt(at);
      if (commit !== 0) {
        for (const [p, ref] of pending) scan.pages.set(p, ref);
        pending = new Map();
        scan.end = frameOffset + frameSize;
        scan.commit = commit;
        scan.commitFrames++;
        scan.checksum = { s1: running.s1, s2: running.s2 };
      }
      if (retain && retained > RETAIN_LIMIT) {
        retain = false;
        for (const ref of scan.pages.values()) ref.data = null;
        for (const ref of pending.values()) ref.data = null;
      }
    }
    if (stopped) break;
    offset += whole * frameSize;
  }
  return scan;
}
