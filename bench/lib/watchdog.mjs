// Ends the bench's child processes if the bench itself dies without cleaning up (SIGKILL, a crash):
// a detached process that reads "tree PID" / "forget PID" / "rm DIR" / "rmdir CGROUP" lines on stdin and, when stdin
// closes without "done" (its parent is gone), SIGKILLs every process it was given and everything
// under them (sshd's per-connection children call setsid, so a process group would miss them), then
// removes the bench's own temporary directories and cgroups (only names the bench makes:
// walship-bench-*, .dist-*).
import { rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { descendants, onLines, signalAll } from '../../test/kit/procs.mjs';

const pids = new Set();
const dirs = new Set();
const emptyDirs = new Set(); // cgroups: removed with rmdir once their processes are gone
let done = false;

onLines(process.stdin, (line) => {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'tree') pids.add(Number(arg));
  else if (cmd === 'forget') pids.delete(Number(arg));
  else if (cmd === 'rm' && /^(walship-bench-|\.dist-)/.test(path.basename(arg ?? ''))) dirs.add(arg);
  else if (cmd === 'rmdir' && /^walship-bench-/.test(path.basename(arg ?? ''))) emptyDirs.add(arg);
  else if (cmd === 'done') done = true;
});
process.stdin.on('end', () => {
  if (done) process.exit(0);
  signalAll(
    [...pids].flatMap((p) => [p, ...descendants(p)]),
    'SIGKILL',
  );
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  // A cgroup can be removed once the killed processes in it are gone: give them a moment.
  setTimeout(() => {
    for (const d of emptyDirs) {
      try {
        rmdirSync(d);
      } catch {
        // still busy or gone
      }
    }
    process.exit(0);
  }, 500);
});
