// A separate-process application writer using better-sqlite3. Transactions are numbered; each
// commit prints one JSON line {"n":N,"t":epochMs} after COMMIT returns. Options come as JSON in argv[2]:
// db, from, to, payload ("small"|"mixed"), autocheckpoint (pages, or null for SQLite's default),
// truncateEvery, vacuumAt, reopenEvery, pauseAfter ([n...]), pauseMs, delayMs, stopFile (once that file
// exists, stop before the next transaction and exit 0: a load of unknown length that still ends cleanly).
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { payloadFor } from './payload.mjs';

const o = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function open() {
  const db = new Database(o.db);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  if (o.autocheckpoint != null) db.pragma(`wal_autocheckpoint = ${o.autocheckpoint}`);
  db.exec(`CREATE TABLE IF NOT EXISTS tx (n INTEGER PRIMARY KEY, payload BLOB NOT NULL, ts INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, junk BLOB)`);
  return db;
}

let db = open();
for (let n = o.from; n <= o.to; n++) {
  if (o.stopFile && existsSync(o.stopFile)) break;
  const payload = payloadFor(n, o.payload);
  const now = Date.now();
  db.transaction(() => {
    db.prepare('INSERT INTO tx (n, payload, ts) VALUES (?, ?, ?)').run(n, payload, now);
    db.prepare("INSERT INTO meta (k, v) VALUES ('last', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v").run(n);
    if (o.vacuumAt && n === o.vacuumAt - 5) {
      // Grow the file so the VACUUM below shrinks it.
      for (let i = 0; i < 200; i++) db.prepare('INSERT INTO filler (junk) VALUES (?)').run(Buffer.alloc(4000, i));
    }
  })();
  process.stdout.write(`${JSON.stringify({ n, t: Date.now() })}\n`);
  if (o.vacuumAt && n === o.vacuumAt) {
    db.exec('DELETE FROM filler');
    db.exec('VACUUM');
  }
  if (o.truncateEvery && n % o.truncateEvery === 0) db.pragma('wal_checkpoint(TRUNCATE)');
  if (o.reopenEvery && n % o.reopenEvery === 0) {
    db.close();
    db = open();
  }
  if (o.pauseAfter?.includes(n)) await sleep(o.pauseMs ?? 1000);
  else if (o.delayMs) await sleep(o.delayMs);
}
db.close();
