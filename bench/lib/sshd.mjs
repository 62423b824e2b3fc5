// A real OpenSSH sshd on 127.0.0.1 for the benchmarks (the same approach as test/helpers/sshd.ts,
// in plain JavaScript so the bench runs from dist/ without a TypeScript loader). Its SFTP subsystem
// is internal-sftp with `-l DEBUG3`, so every SFTP request the server handles is one log line
// ("request N: ..."): the server-side request count for the idle measurement, and the list of files
// a restore opened for reading.
import { execFile, spawn } from 'node:child_process';
import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { children, freePort } from './util.mjs';

const run = promisify(execFile);
const SSHD = process.env.WALSHIP_SSHD || '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const MAX_LOG_LINES = 100_000;

export async function generateKey(dir, name) {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `walship-bench-${name}`, '-f', file]);
  return { privateKeyPath: file, publicKey: (await fsp.readFile(`${file}.pub`, 'utf8')).trim() };
}


function descendants(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const out = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift()) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

export class Sshd {
  host = '127.0.0.1';
  user = os.userInfo().username;
  proc = null;
  /** Every log line sshd wrote to stderr, with the time it arrived: { t, line }. */
  lines = [];

  constructor(dir, port, hostKey, clientKey, audit) {
    this.audit = audit;
    this.dir = dir;
    this.port = port;
    this.hostKey = hostKey;
    this.clientKey = clientKey;
  }

  /**
   * `audit: false` serves SFTP with internal-sftp and no request logging, as the project's replica
   * image does: the server the timed measurements use. `audit: true` runs OpenSSH's sftp-server with
   * `-e -l DEBUG3`, its stderr appended to `auditLogPath`: one line per SFTP request. (internal-sftp
   * cannot be used for this: its log goes to syslog, or with -e to the client's stderr channel.)
   * `keys` reuses another instance's host and client keys.
   */
  static async start(baseDir, { audit = false, keys = null } = {}) {
    const dir = await fsp.mkdtemp(path.join(baseDir, audit ? 'sshd-audit-' : 'sshd-'));
    await fsp.chmod(dir, 0o755);
    const hostKey = keys?.hostKey ?? (await generateKey(dir, 'ssh_host_ed25519_key'));
    const clientKey = keys?.clientKey ?? (await generateKey(dir, 'client_ed25519'));
    await fsp.writeFile(path.join(dir, 'authorized_keys'), `${clientKey.publicKey}\n`, { mode: 0o644 });
    await fsp.writeFile(path.join(dir, 'known_hosts'), '');
    if (process.getuid?.() === 0) await fsp.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    let lastErr;
    for (let attempt = 0; attempt < 5; attempt++) {
      const sshd = new Sshd(dir, await freePort(), hostKey, clientKey, audit);
      try {
        await sshd.launch();
        await fsp.writeFile(path.join(dir, 'known_hosts'), `[${sshd.host}]:${sshd.port} ${sshd.hostKeyLine}\n`);
        return sshd;
      } catch (err) {
        lastErr = err;
        await sshd.stop();
        if (!/Address already in use|Bind to port/.test(String(err))) break;
      }
    }
    throw lastErr;
  }

  get hostKeyLine() {
    return this.hostKey.publicKey.split(/\s+/).slice(0, 2).join(' ');
  }

  get knownHostsPath() {
    return path.join(this.dir, 'known_hosts');
  }

  /** Options for OpenSSH's sftp client: batch mode, our key, our known_hosts, nothing from ~/.ssh. */
  sftpArgs() {
    return [
      '-q',
      '-P', String(this.port),
      '-i', this.clientKey.privateKeyPath,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', `UserKnownHostsFile=${this.knownHostsPath}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-F', '/dev/null',
    ];
  }

  sftpUrl(remotePath) {
    return `sftp://${encodeURIComponent(this.user)}@${this.host}:${this.port}${remotePath}`;
  }

  async launch() {
    const cfg = path.join(this.dir, 'sshd_config');
    const lines = [
      `Port ${this.port}`,
      `ListenAddress ${this.host}`,
      `HostKey ${this.hostKey.privateKeyPath}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PrintMotd no',
      'MaxStartups 100',
      'MaxSessions 50',
      'LogLevel VERBOSE',
      this.audit ? `Subsystem sftp ${SFTP_SERVER} -e -l DEBUG3 2>>${this.auditLogPath}` : 'Subsystem sftp internal-sftp',
    ];
    await fsp.writeFile(cfg, `${lines.join('\n')}\n`);
    const proc = spawn(SSHD, ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.track(proc);
    this.proc = proc;
    let buf = '';
    let ready = false;
    let exited = false;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      const t = Date.now();
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop();
      for (const line of parts) {
        if (this.lines.length < MAX_LOG_LINES) this.lines.push({ t, line });
        if (line.includes(`Server listening on ${this.host} port ${this.port}`)) ready = true;
      }
    });
    proc.once('exit', () => (exited = true));
    proc.once('error', () => (exited = true));
    const end = Date.now() + 10_000;
    while (!ready && !exited && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    if (!ready) throw new Error(`sshd did not start on ${this.host}:${this.port}:\n${this.lines.map((l) => l.line).join('\n')}`);
  }

  get auditLogPath() {
    return path.join(this.dir, 'sftp-server.log');
  }

  /** Byte offset into the audit log: everything logged from now on is past it. */
  async mark() {
    return (await fsp.stat(this.auditLogPath).catch(() => ({ size: 0 }))).size;
  }

  /** The audit log's lines written since `mark`. */
  async auditSince(mark) {
    const fh = await fsp.open(this.auditLogPath, 'r').catch(() => null);
    if (!fh) return [];
    try {
      const { size } = await fh.stat();
      const buf = Buffer.alloc(Math.max(0, size - mark));
      await fh.read(buf, 0, buf.length, mark);
      return buf.toString('utf8').split('\n').filter(Boolean);
    } finally {
      await fh.close();
    }
  }

  /**
   * SFTP requests logged since `mark`, as { id, type } ("open", "write", "posix-rename", "readdir"...).
   * At DEBUG3 sftp-server logs "request N: <type> ..." when a request arrives and "request N: sent
   * ..." when it answers; only the first kind is counted.
   */
  async requestsSince(mark) {
    const out = [];
    for (const l of await this.auditSince(mark)) {
      const m = /^debug\d: request (\d+): (?!sent )(\S+)/.exec(l);
      if (m) out.push({ id: Number(m[1]), type: m[2] });
    }
    return out;
  }

  async stop() {
    const proc = this.proc;
    if (!proc || proc.pid === undefined) return;
    this.proc = null;
    const root = proc.pid;
    const tree = [root, ...descendants(root)];
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const end = Date.now() + 5_000;
    while (proc.exitCode === null && proc.signalCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }
}
