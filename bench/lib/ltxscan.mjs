// Which application transactions an LTX file holds. The writer puts the text marker
// "WSB#<n, 10 digits>#" in the row of transaction n, and only ever inserts (n grows), so the newest
// copy of every page a transaction touched carries its marker: the highest marker in a level-0
// file's pages is the last transaction that file made durable on the replica (walship's and
// Litestream's level-0 files alike: the format is the same). Pages are decoded
// with walship's own LTX decoder (dist/ltx/decoder.js), which verifies the file's CRC-64 too.
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const MARKER = /WSB#(\d{10})#/g;

let decoder = null;
async function loadDecoder(distDir) {
  decoder ??= await import(path.join(distDir, 'ltx', 'decoder.js'));
  return decoder;
}

/** The highest transaction marker in an LTX file's pages, or 0 when it holds none. */
export async function maxMarker(distDir, file) {
  const { LtxFile } = await loadDecoder(distDir);
  const buf = await fsp.readFile(file);
  const ltx = LtxFile.open(buf);
  let max = 0;
  const it = ltx.pages();
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    const text = r.value.data.toString('latin1');
    for (const m of text.matchAll(MARKER)) max = Math.max(max, Number(m[1]));
  }
  return { max, header: ltx.header };
}

/** Parses "<min>-<max>.ltx". */
export function parseName(name) {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/.exec(name);
  return m ? { minTXID: Number.parseInt(m[1], 16), maxTXID: Number.parseInt(m[2], 16) } : null;
}

/** The highest max TXID among the LTX names in a directory (0 when none, or no directory). */
export async function maxTxidIn(dir) {
  const names = await fsp.readdir(dir).catch(() => []);
  return Math.max(0, ...names.map((n) => parseName(n)?.maxTXID ?? 0));
}

/** Whether an LTX file's pages carry a marker >= target; stops at the first one found. */
export async function hasMarkerAtLeast(distDir, file, target) {
  const { LtxFile } = await loadDecoder(distDir);
  const ltx = LtxFile.open(await fsp.readFile(file));
  const it = ltx.pages();
  for (;;) {
    const r = await it.next();
    if (r.done) return false;
    for (const m of r.value.data.toString('latin1').matchAll(MARKER)) if (Number(m[1]) >= target) return true;
  }
}

/**
 * Waits until a level-0 file in `dir` holds transaction `target` (or a later one): the replica has
 * everything up to it. Walship's /status cannot tell this while a long capture is still running.
 * Returns true, or false after `timeoutMs`.
 */
export async function waitForMarker(distDir, dir, target, timeoutMs) {
  const checked = new Set();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const names = (await fsp.readdir(dir).catch(() => [])).filter((n) => parseName(n) && !checked.has(n));
    // Newest first: the target is most likely in the last file.
    names.sort((a, b) => parseName(b).minTXID - parseName(a).minTXID);
    for (const n of names) {
      // A file that cannot be read yet (deleted, or its rename raced the listing) is looked at again.
      const hit = await hasMarkerAtLeast(distDir, path.join(dir, n), target).catch(() => null);
      if (hit) return true;
      if (hit === false) checked.add(n);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
