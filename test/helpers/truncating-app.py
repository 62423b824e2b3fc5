"""An application that runs its own TRUNCATE checkpoints, as a Python app would.

Argument: a JSON object {db, n, every, busyMs, autocheckpoint, delayMs}. Commits n numbered rows (the
oracle's tx table, small payloads) and after every `every` commits runs PRAGMA wal_checkpoint(TRUNCATE)
with a busy timeout of busyMs. Prints one JSON line: the (busy, log, checkpointed) result of every
TRUNCATE, in order. busy=1 means the checkpoint gave up waiting for a reader.
"""
import json
import sqlite3
import sys
import time

o = json.loads(sys.argv[1])
db = sqlite3.connect(o["db"], isolation_level=None, timeout=o["busyMs"] / 1000)
db.execute("PRAGMA journal_mode=WAL")
db.execute(f"PRAGMA wal_autocheckpoint={int(o['autocheckpoint'])}")
db.executescript(
    """CREATE TABLE IF NOT EXISTS tx (n INTEGER PRIMARY KEY, payload BLOB NOT NULL, ts INTEGER NOT NULL);
       CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"""
)
results = []
for n in range(1, o["n"] + 1):
    db.execute("BEGIN")
    db.execute("INSERT INTO tx (n, payload, ts) VALUES (?, ?, ?)", (n, bytes((n + i) % 256 for i in range(100 + (n % 7) * 50)), int(time.time() * 1000)))
    db.execute("INSERT INTO meta (k, v) VALUES ('last', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", (n,))
    db.execute("COMMIT")
    if n % o["every"] == 0:
        results.append(list(db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()))
    time.sleep(o["delayMs"] / 1000)
db.close()
print(json.dumps({"truncates": results}), flush=True)
