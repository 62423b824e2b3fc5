// An idle database costs two stats a poll: once the files stay as they are, walship stops moving
// its read pin (each move is two SQLite calls). Stopping must not cost the application its
// checkpoints: after the idle passes, a TRUNCATE from another process still completes at once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DatabaseCapture } from '../../src/replication/db-capture.js';
import { IDLE_PIN_MOVES } from '../../src/replication/idle-look.js';
import { Staging } from '../../src/replication/staging.js';

let dir = '';
let capture: DatabaseCapture | null = null;
afterEach(async () => {
  await capture?.close();
  capture = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Runs SQL in a Python process of its own; returns what the last statement returned. */
function app(db: string, sql: string[], busyMs = 2000): unknown {
  const script = `import json,sqlite3,sys
c=sqlite3.connect(sys.argv[1], isolation_level=None, timeout=${busyMs / 1000})
c.execute("PRAGMA wal_autocheckpoint=0")
r=None
for s in json.loads(sys.argv[2]): r=c.execute(s).fetchall()
print(json.dumps(r))`;
  return JSON.parse(execFileSync('python3', ['-c', script, db, JSON.stringify(sql)], { encoding: 'utf8' }));
}

describe('the read pin of an idle database', () => {
  it(`moves in at most ${IDLE_PIN_MOVES} idle passes after a change, then keeps one SQLite connection open; an application TRUNCATE after that still completes`, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-idle-pin-'));
    const db = path.join(dir, 'app.db');
    app(db, ['PRAGMA journal_mode=WAL', 'CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB)', ...Array.from({ length: 20 }, (_, i) => `INSERT INTO t VALUES (${i + 1}, randomblob(500))`)]);
    capture = new DatabaseCapture(db, new Staging(db), pino({ level: 'silent' }));
    expect(await capture.open()).toBe(true);
    expect((await capture.capture({ snapshot: false }))?.l0).not.toBeNull();

    // Nothing changes: a few moves right after the capture, then none.
    let before = capture.pinMoves;
    for (let i = 0; i < 10; i++) expect(capture.idlePass()).toBe(true);
    expect(capture.pinMoves - before).toBe(IDLE_PIN_MOVES);

    // A commit and a checkpoint of the application's: the files changed, so a pass captures.
    app(db, ['INSERT INTO t VALUES (100, randomblob(500))', 'PRAGMA wal_checkpoint(PASSIVE)']);
    expect(capture.idlePass()).toBe(false);
    expect((await capture.capture({ snapshot: false, ifChanged: true }))?.l0?.maxTXID).toBe(2);
    // Every frame is in the database file now (walship's pin was at the WAL's end).
    expect(app(db, ['PRAGMA wal_checkpoint(PASSIVE)'])).toEqual([[0, expect.any(Number), expect.any(Number)]]);
    expect(capture.idlePass()).toBe(false);
    expect(await capture.capture({ snapshot: false, ifChanged: true })).toBeNull();
    before = capture.pinMoves;
    for (let i = 0; i < 10; i++) expect(capture.idlePass()).toBe(true);
    expect(capture.pinMoves - before).toBe(IDLE_PIN_MOVES);

    // Idle, it keeps the pin's connection alone open.
    expect(capture.connections).toBe(1);

    // The pin no longer moves, and still holds no TRUNCATE back: busy 0, an empty WAL.
    expect(app(db, ['PRAGMA wal_checkpoint(TRUNCATE)'], 2000)).toEqual([[0, 0, 0]]);
    // And what the application commits next is captured whole.
    app(db, ['INSERT INTO t VALUES (101, randomblob(500))']);
    expect(capture.idlePass()).toBe(false);
    expect((await capture.capture({ snapshot: false, ifChanged: true }))?.l0?.maxTXID).toBe(3);
    expect(capture.connections).toBe(2);
    // walship's own checkpoint opens its barrier connection again, and copies every frame.
    const cp = await capture.checkpoint('PASSIVE');
    expect(cp.checkpoint).toMatchObject({ mode: 'PASSIVE', busy: 0 });
    expect(cp.checkpoint!.checkpointedFrames).toBe(cp.checkpoint!.logFrames);
    expect(capture.connections).toBe(3);
    for (let i = 0; i < IDLE_PIN_MOVES + 1; i++) capture.idlePass() || (await capture.capture({ snapshot: false, ifChanged: true }));
    for (let i = 0; i < IDLE_PIN_MOVES + 1; i++) expect(capture.idlePass()).toBe(true);
    expect(capture.connections).toBe(1);
    // An application checkpoint that ends after walship's last pass, with no other trace: UPDATEs
    // (the database does not grow), captured while not yet in the database file, so the pin takes
    // a WAL read mark; then PASSIVE copies them, and the database file's mtime is put back (as
    // when the checkpoint's writes fall in the same timestamp tick as walship's last stat). Only
    // the WAL index shows it. The next poll must see that and move the pin, or the TRUNCATE after
    // it waits out its whole busy timeout on walship's read mark.
    app(db, ['PRAGMA wal_checkpoint(TRUNCATE)']);
    expect(capture.idlePass()).toBe(false);
    await capture.capture({ snapshot: false, ifChanged: true });
    app(db, ['UPDATE t SET v = randomblob(500) WHERE n <= 5']);
    // A whole-second mtime, which utimes can put back exactly.
    const stamp = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    utimesSync(db, stamp, stamp);
    expect(capture.idlePass()).toBe(false);
    expect((await capture.capture({ snapshot: false, ifChanged: true }))?.l0).not.toBeNull();
    for (let i = 0; i < IDLE_PIN_MOVES + 2; i++) expect(capture.idlePass()).toBe(true);
    const dbStat = statSync(db);
    expect(app(db, ['PRAGMA wal_checkpoint(PASSIVE)'])).toEqual([[0, expect.any(Number), expect.any(Number)]]);
    utimesSync(db, stamp, stamp);
    expect(statSync(db)).toMatchObject({ size: dbStat.size, mtimeMs: dbStat.mtimeMs });
    expect(capture.idlePass()).toBe(false);
    expect(await capture.capture({ snapshot: false, ifChanged: true })).toBeNull();
    expect(app(db, ['PRAGMA wal_checkpoint(TRUNCATE)'], 300)).toEqual([[0, 0, 0]]);

    // A commit after that is captured, its TXID following on.
    app(db, ['INSERT INTO t VALUES (102, randomblob(500))']);
    expect(capture.idlePass()).toBe(false);
    expect((await capture.capture({ snapshot: false, ifChanged: true }))?.l0?.maxTXID).toBe(5);
  });
});
