// Watches a replica's level-0 directory (on the local disk, served by sshd) with inotify and prints
// one JSON line {"name","t"} when a final LTX name appears, t being the epoch ms (sub-ms precision)
// at which the event reached this otherwise idle process. Both walship and Litestream upload to a
// temporary name and rename it onto "<min>-<max>.ltx", so the first 'rename' event that carries
// the final name is the moment the file was complete on the replica. With a second directory, each
// new file is also hard-linked there at once (one link(2)), so it can be read later even if the
// sidecar's retention has deleted it meanwhile. Prints "ready" once watching; exits on SIGTERM or
// after `maxMs`.
import { existsSync, linkSync, watch } from 'node:fs';
import path from 'node:path';

const [dir, maxMsArg, keepDir] = process.argv.slice(2);
const FINAL = /^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$/;
const seen = new Set();
const now = () => performance.timeOrigin + performance.now();

const watcher = watch(dir, { persistent: true }, (event, name) => {
  const t = now();
  if (event !== 'rename' || !name || !FINAL.test(name) || seen.has(name)) return;
  // A deletion also reports 'rename'; only an appearance counts.
  const file = path.join(dir, name);
  if (!existsSync(file)) return;
  seen.add(name);
  if (keepDir) {
    try {
      linkSync(file, path.join(keepDir, name));
    } catch {
      // deleted between the event and the link: the record still counts, its pages are lost
    }
  }
  process.stdout.write(`${JSON.stringify({ name, t })}\n`);
});
process.stdout.write('ready\n');
const stop = () => {
  watcher.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
setTimeout(stop, Number(maxMsArg) || 30 * 60_000);
