// The bench's application under test (the load writer): a separate process with its own better-sqlite3 connection and
// SQLite's defaults (WAL mode, synchronous=FULL, autocheckpoint 1000 pages), writing numbered
// transactions. Options come as JSON in argv[2]:
//   db        database path (created with the schema if missing)
//   mode      "rate": small transactions at `rate` per second for `durationMs` (open loop: a late
//                     transaction runs at once, none is skipped), numbered from `from`;
//             "bulk": `bytes` of incompressible blobs in transactions of `txBytes`, then one
//                     small transaction numbered `finalMarker`;
//             "init": only the schema and `warmup` small rows.
//   out       where to write the result JSON when done
// Each small row carries the text marker "WSB#<n, 10 digits>#", so the pages of an LTX file tell
// which transactions it holds (bench/lib/ltxscan.mjs). Per transaction the result holds the commit time
// (epoch ms, sub-ms precision, taken right after COMMIT returned) and the commit latency (ms, from
// BEGIN to COMMIT returned).
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const o = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MAX_TX = 2_000_000;

const db = new Database(o.db);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
db.exec(`CREATE TABLE IF NOT EXISTS tx (n INTEGER PRIMARY KEY, marker TEXT NOT NULL, payload BLOB NOT NULL, ts REAL NOT NULL);
         CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS bulk (id INTEGER PRIMARY KEY, data BLOB NOT NULL)`);

const insTx = db.prepare('INSERT INTO tx (n, marker, payload, ts) VALUES (?, ?, ?, ?)');
const setLast = db.prepare("INSERT INTO meta (k, v) VALUES ('last', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v");
const insBulk = db.prepare('INSERT INTO bulk (data) VALUES (?)');

const marker = (n) => `WSB#${String(n).padStart(10, '0')}#`;
// 150-400 bytes of random payload per row: small, incompressible transactions.
const payloadPool = randomBytes(1 << 20);
const smallTx = db.transaction((n, t) => {
  const len = 150 + ((n * 37) % 251);
  const off = (n * 4099) % (payloadPool.length - len);
  insTx.run(n, marker(n), payloadPool.subarray(off, off + len), t);
  setLast.run(n);
});

const result = { mode: o.mode, n: [], commitAt: [], latencyMs: [], startedAt: now(), endedAt: 0, bytes: 0, lastN: 0 };

function commitOne(n) {
  const a = now();
  smallTx(n, a);
  const b = now();
  result.n.push(n);
  result.commitAt.push(b);
  result.latencyMs.push(b - a);
  result.lastN = n;
}

if (o.mode === 'init') {
  for (let i = 0; i < (o.warmup ?? 0); i++) commitOne((o.from ?? 1) + i);
} else if (o.mode === 'rate') {
  const period = 1000 / o.rate;
  const t0 = now();
  const count = Math.min(MAX_TX, Math.round((o.durationMs / 1000) * o.rate));
  for (let i = 0; i < count; i++) {
    const due = t0 + i * period;
    // No spinning (it would take a core from walship on a small machine): timers have ~1 ms
    // granularity, so a transaction runs up to 1 ms early or late, and the average rate holds.
    const wait = due - now();
    if (wait >= 1) await sleep(wait);
    commitOne((o.from ?? 1) + i);
  }
} else if (o.mode === 'bulk') {
  const rowBytes = 64 * 1024;
  const rowsPerTx = Math.max(1, Math.round(o.txBytes / rowBytes));
  const txCount = Math.min(MAX_TX, Math.ceil(o.bytes / (rowsPerTx * rowBytes)));
  const tx = db.transaction((rows) => {
    for (const r of rows) insBulk.run(r);
  });
  for (let i = 0; i < txCount; i++) {
    const buf = randomBytes(rowsPerTx * rowBytes);
    const rows = [];
    for (let r = 0; r < rowsPerTx; r++) rows.push(buf.subarray(r * rowBytes, (r + 1) * rowBytes));
    const a = now();
    tx(rows);
    const b = now();
    result.n.push(i + 1);
    result.commitAt.push(b);
    result.latencyMs.push(b - a);
    result.bytes += buf.length;
  }
  // One small marked transaction last: the replica holding it holds the whole bulk load.
  if (o.finalMarker) {
    const a = now();
    smallTx(o.finalMarker, a);
    result.finalMarkerAt = now();
  }
} else {
  throw new Error(`unknown mode ${o.mode}`);
}
result.endedAt = now();
db.close();
writeFileSync(o.out, JSON.stringify(result));
