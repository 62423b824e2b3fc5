"""A separate-process application writer using Python's standard sqlite3 module.

Same options and output as writer-node.mjs: numbered transactions, one JSON line per commit.
"""
import json
import sqlite3
import sys
import time

from payload import payload_for  # noqa: E402 (beside this script)

o = json.loads(sys.argv[1])


def open_db():
    db = sqlite3.connect(o["db"], isolation_level=None, timeout=5.0)
    db.execute("PRAGMA journal_mode=WAL")
    if o.get("autocheckpoint") is not None:
        db.execute(f"PRAGMA wal_autocheckpoint={int(o['autocheckpoint'])}")
    db.executescript(
        """CREATE TABLE IF NOT EXISTS tx (n INTEGER PRIMARY KEY, payload BLOB NOT NULL, ts INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
           CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, junk BLOB)"""
    )
    return db


db = open_db()
for n in range(o["from"], o["to"] + 1):
    now = int(time.time() * 1000)
    db.execute("BEGIN")
    db.execute("INSERT INTO tx (n, payload, ts) VALUES (?, ?, ?)", (n, payload_for(n, o.get("payload")), now))
    db.execute("INSERT INTO meta (k, v) VALUES ('last', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", (n,))
    if o.get("vacuumAt") and n == o["vacuumAt"] - 5:
        for i in range(200):
            db.execute("INSERT INTO filler (junk) VALUES (?)", (bytes([i % 256]) * 4000,))
    db.execute("COMMIT")
    print(json.dumps({"n": n, "t": int(time.time() * 1000)}), flush=True)
    if o.get("vacuumAt") and n == o["vacuumAt"]:
        db.execute("DELETE FROM filler")
        db.execute("VACUUM")
    if o.get("truncateEvery") and n % o["truncateEvery"] == 0:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    if o.get("reopenEvery") and n % o["reopenEvery"] == 0:
        db.close()
        db = open_db()
    if n in (o.get("pauseAfter") or []):
        time.sleep(o.get("pauseMs", 1000) / 1000)
    elif o.get("delayMs"):
        time.sleep(o["delayMs"] / 1000)
db.close()
