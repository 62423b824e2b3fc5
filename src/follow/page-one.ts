// Page 1 of a follower's database, as the follower writes it. The page comes from the primary, which
// runs in WAL mode and does not bump the file change counter on commit; in the follower it must:
//  - bytes 18-19 say rollback-journal mode (1), so readers use the file locks the follower takes
//    (in WAL mode they would read through a -wal/-shm the follower never writes);
//  - the change counter (24) goes up by one per applied file, so every reader's page cache sees
//    that the file changed and drops what it holds;
//  - the in-header size (28) is the new size, marked valid (92 equals the counter).
// Pure.

export const CHANGE_COUNTER_OFFSET = 24;

export function readChangeCounter(page1: Buffer): number {
  return page1.readUInt32BE(CHANGE_COUNTER_OFFSET);
}

/** Returns a copy of `page1` fit for a follower whose database now has `pages` pages. */
export function followerPageOne(page1: Buffer, previousCounter: number, pages: number): Buffer {
  const b = Buffer.from(page1);
  if (b.toString('latin1', 0, 16) !== 'SQLite format 3\u0000') throw new Error('page 1 is not a SQLite database header');
  b[18] = 1;
  b[19] = 1;
  const counter = (previousCounter + 1) >>> 0;
  b.writeUInt32BE(counter, CHANGE_COUNTER_OFFSET);
  b.writeUInt32BE(pages, 28);
  b.writeUInt32BE(counter, 92);
  return b;
}
