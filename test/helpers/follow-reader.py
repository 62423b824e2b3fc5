"""A reader of a follower's database, in its own process, with Python's sqlite3 as any app would.

It reads until a stop file appears, then reads once more (or until a bound on reads and time), alternating a long-lived
connection (whose page cache must notice every change) and a fresh one. Each read is one read
transaction: integrity_check, every row of tx, meta.last. It prints one JSON summary line: the k
of every read, and every violation it saw (a torn or non-prefix state, a failed integrity check,
an error other than a busy wait), and apart, how often a hot journal refused it.
"""
import json
import os
import sqlite3
import sys
import time

from payload import payload_for

o = json.loads(sys.argv[1])
uri = "file:" + o["db"] + "?mode=ro"


def connect():
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=o.get("busyTimeout", 10.0))


def read_once(db):
    db.execute("BEGIN")
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT n, payload FROM tx ORDER BY n").fetchall()
        last = db.execute("SELECT v FROM meta WHERE k = 'last'").fetchone()
    finally:
        db.execute("COMMIT")
    problems = []
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")
    for i, (n, payload) in enumerate(rows):
        if n != i + 1:
            problems.append(f"row {i + 1} is transaction {n}: not a contiguous prefix")
            break
        if payload != payload_for(n, o["payload"]):
            problems.append(f"transaction {n} has the wrong payload")
            break
    k = len(rows)
    if (last[0] if last else 0) != k:
        problems.append(f"meta.last is {last[0] if last else None} but rows reach {k}: torn transaction")
    return k, problems


ks = []
violations = []
errors = 0
hot_journal = 0
persistent = None
start = time.time()
reads = 0
final = False
while not final and reads < o.get("maxReads", 100000) and time.time() - start < o.get("maxSeconds", 300):
    # Once told to stop, one more read: the state the test waited for before stopping it.
    final = os.path.exists(o["stopFile"]) and reads >= o.get("minReads", 0)
    fresh = reads % 2 == 1
    try:
        if fresh:
            db = connect()
        else:
            if persistent is None:
                persistent = connect()
            db = persistent
        k, problems = read_once(db)
        if fresh:
            db.close()
    except sqlite3.DatabaseError as e:
        # The database does not exist yet before the first restore; anything else counts.
        if "unable to open" in str(e) and not ks:
            time.sleep(0.05)
            continue
        if "attempt to write a readonly database" in str(e):
            # A hot journal (the follower died mid-apply): SQLite refuses a read-only reader
            # rather than show it the half-applied pages. Counted apart; tests decide.
            hot_journal += 1
        else:
            violations.append(f"read {reads}: {e}")
            errors += 1
        if persistent is not None and not fresh:
            persistent.close()
            persistent = None
        reads += 1
        time.sleep(o.get("pauseMs", 20) / 1000)
        continue
    if ks and k < ks[-1]:
        problems.append(f"went backwards: {ks[-1]} then {k}")
    ks.append(k)
    violations.extend(f"read {reads} (k={k}): {p}" for p in problems)
    reads += 1
    time.sleep(o.get("pauseMs", 20) / 1000)
print(json.dumps({"reads": reads, "ks": ks, "violations": violations[:50], "errors": errors, "hotJournal": hot_journal}), flush=True)
