"""walship demo app: a news-site stand-in that keeps its state in a diskcache database.

The writer thread commits a few times per second, each tick one transaction:
  - the counter key "writes" goes up by one (it only ever goes up);
  - the page entry "page:<n % PAGES>" gets a small rendered article;
  - "last_write" records the time.
Values stay well under diskcache's 32 KiB file threshold, so everything lives in cache.db itself.

GET /       an HTML page with the counter and the newest articles
GET /stats  JSON: writes, entries, started_with (the counter found at start), database path

READ_ONLY=1 makes it a read-only front-end for a follower's copy (walship restore -f): no writer
thread, and every request opens the database read-only with a busy timeout, as the README says a
follower's readers must (diskcache is not used: opening a diskcache writes to the database). Until
the follower has restored the database, requests answer 503.

Logs are JSON lines on stdout: "started" (with the counter found in the database, which is what a
restore brought back) and "stopped" (with the final counter) on SIGTERM or SIGINT.
"""
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import diskcache

DATA_DIR = os.environ.get("DATA_DIR", "/data")
PORT = int(os.environ.get("PORT", "8080"))
WRITE_INTERVAL = float(os.environ.get("WRITE_INTERVAL", "0.2"))
PAGES = int(os.environ.get("PAGES", "50"))
READ_ONLY = os.environ.get("READ_ONLY", "") not in ("", "0", "false")
DB_PATH = os.path.join(DATA_DIR, "cache.db")

stop = threading.Event()


def log(event, **fields):
    fields = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": event, **fields}
    print(json.dumps(fields), flush=True)


class ReadOnlyCache:
    """The reads /stats needs, straight from diskcache's Cache table: read-only, busy timeout."""

    def snapshot(self):
        """writes, entries and last_write, read in one read transaction (one committed state)."""
        if not os.path.exists(DB_PATH):
            raise NotReady(f"{DB_PATH} does not exist yet")
        con = sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True, timeout=10, isolation_level=None)
        try:
            con.execute("BEGIN")
            value = lambda key: (con.execute("SELECT value FROM Cache WHERE key = ?", (key,)).fetchone() or (None,))[0]
            return {
                "writes": int(value("writes") or 0),
                "entries": con.execute("SELECT count(*) FROM Cache").fetchone()[0],
                "last_write": value("last_write"),
            }
        finally:
            con.close()


class NotReady(Exception):
    pass


if READ_ONLY:
    cache = ReadOnlyCache()
    try:
        started_with = cache.snapshot()["writes"]
    except (NotReady, sqlite3.Error):
        started_with = 0
else:
    cache = diskcache.Cache(DATA_DIR)  # DATA_DIR/cache.db, diskcache's defaults (WAL journal)
    started_with = int(cache.get("writes", 0))


def journal_mode():
    try:
        con = sqlite3.connect(f"file:{DB_PATH}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as err:  # read-only and not there yet, or a WAL database on a read-only mount
        return f"unknown ({err})"


def article(n):
    body = " ".join(f"Paragraph {i} of story {n}." for i in range(20))
    return f"<article><h2>Story {n}</h2><p>{body}</p></article>"


def writer():
    while not stop.is_set():
        try:
            with cache.transact():
                n = cache.incr("writes")
                cache.set(f"page:{n % PAGES}", {"n": n, "html": article(n), "at": time.time()})
                cache.set("last_write", time.time())
        except Exception as err:  # a locked database or a full disk: say so, keep going
            log("write_failed", error=str(err))
        stop.wait(WRITE_INTERVAL)


def stats():
    if READ_ONLY:
        now = cache.snapshot()
    else:
        now = {"writes": int(cache.get("writes", 0)), "entries": len(cache), "last_write": cache.get("last_write")}
    return {**now, "started_with": started_with, "database": DB_PATH, "read_only": READ_ONLY}


def page_items():
    if READ_ONLY:
        return []
    items = []
    for key in sorted((k for k in cache.iterkeys() if str(k).startswith("page:")), key=str)[:10]:
        entry = cache.get(key)
        if entry:
            items.append(entry["html"])
    return items


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            self.route()
        except NotReady as err:
            self.reply(503, "text/plain", f"{err}\n".encode())
        except sqlite3.Error as err:  # read-only: e.g. a follower's hot journal, until it rolls back
            self.reply(503, "text/plain", f"database not readable now: {err}\n".encode())

    def route(self):
        if self.path == "/stats":
            self.reply(200, "application/json", json.dumps(stats()).encode())
        elif self.path == "/":
            s = stats()
            items = page_items()
            page = (
                "<!doctype html><html><head><meta charset='utf-8'><title>walship demo</title></head><body>"
                f"<h1>walship demo</h1><p>{s['writes']} writes so far ({s['entries']} entries; "
                f"started with {s['started_with']}).</p>{''.join(items)}</body></html>"
            )
            self.reply(200, "text/html; charset=utf-8", page.encode())
        else:
            self.reply(404, "text/plain", b"not found\n")

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # quiet: health checks poll often
        pass


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    t = None if READ_ONLY else threading.Thread(target=writer, name="writer")

    def on_signal(signum, _frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("started", writes=started_with, database=DB_PATH, port=PORT, journal_mode=journal_mode(),
        read_only=READ_ONLY)
    if t:
        t.start()
    server.serve_forever()
    if READ_ONLY:
        log("stopped", writes=None, read_only=True)
        return 0
    t.join()
    final = int(cache.get("writes", 0))
    cache.close()
    log("stopped", writes=final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
