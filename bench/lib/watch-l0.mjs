// Watches a replica's level-0 directory (on the local disk, served by sshd) with inotify and prints
// one JSON line {"name","t"} when a final LTX name appears, t being the epoch ms (sub-ms precision)
// at which the event reached this otherwise idle process. An SFTP upload writes
// "<name>.<random>.tmp" and renames it onto "<name>" (posix-rename), so the first 'rename' event
// that carries the final name is the moment the file was renamed into place. Prints "ready" once
// watching; exits on SIGTERM or after `maxMs`.
import { existsSync, watch } from 'node:fs';
import path from 'node:path';

const [dir, maxMsArg] = process.argv.slice(2);
const FINAL = /^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/;
const seen = new Set();
const now = () => performance.timeOrigin + performance.now();

const watcher = watch(dir, { persistent: true }, (event, name) => {
  const t = now();
  if (event !== 'rename' || !name || !FINAL.test(name) || seen.has(name)) return;
  // A deletion also reports 'rename'; only an appearance counts.
  if (!existsSync(path.join(dir, name))) return;
  seen.add(name);
  process.stdout.write(`${JSON.stringify({ name, t })}\n`);
});
process.stdout.write('ready\n');
const stop = () => {
  watcher.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
setTimeout(stop, Number(maxMsArg) || 30 * 60_000);
