// Ends the bench's child processes if the bench itself dies without cleaning up (SIGKILL, a crash):
// a detached process that reads "tree PID" / "forget PID" / "rm DIR" lines on stdin and, when stdin
// closes without "done" (its parent is gone), SIGKILLs every process it was given and everything
// under them (sshd's per-connection children call setsid, so a process group would miss them), then
// removes the bench's own temporary directories (only names the bench makes: walship-bench-*, .dist-*).
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const pids = new Set();
const dirs = new Set();
let done = false;
let buf = '';

function descendants(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {
      // gone
    }
  }
  const out = [];
  const queue = [root];
  while (queue.length > 0 && out.length < 10_000) {
    for (const c of children.get(queue.shift()) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  const lines = buf.split('\n');
  buf = lines.pop();
  for (const line of lines) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'tree') pids.add(Number(arg));
    else if (cmd === 'forget') pids.delete(Number(arg));
    else if (cmd === 'rm' && /^(walship-bench-|\.dist-)/.test(path.basename(arg ?? ''))) dirs.add(arg);
    else if (cmd === 'done') done = true;
  }
});
process.stdin.on('end', () => {
  if (!done) {
    const all = [...pids].flatMap((p) => [p, ...descendants(p)]);
    for (const p of all) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  process.exit(0);
});
