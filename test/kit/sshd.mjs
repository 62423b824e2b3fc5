// A real OpenSSH sshd on 127.0.0.1 for tests and the bench (Debian: openssh-server, openssh-client
// for ssh-keygen, ssh-keyscan and sftp). It listens on a free port with a temporary ed25519 host
// key and an authorized_keys file for a generated client key, serves SFTP with internal-sftp, and
// can be killed (-9, with every child), paused and restarted on the same port with the same host key.
//
// SFTP logging: by default `internal-sftp -l INFO` (each open, close and rename). Note that with
// `sshd -D -e` on Debian 12's OpenSSH those lines go to syslog, not to sshd's stderr (`logs` holds
// the connection and session lines only). `sftpLog: null` logs nothing, as the project's replica
// image. `audit: true` runs OpenSSH's sftp-server with `-e -l DEBUG3` instead, its stderr appended
// to `auditLogPath`: one "request N: <type>" line per SFTP request, counted by `requestsSince`
// (logging every read and write slows transfers): the way to count a client's requests.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.mjs';
import { descendants, isGone, onLines, parentOf, signalAll, stopUntilResumed, track } from './procs.mjs';
import { waitUntil } from './wait.mjs';

const run = promisify(execFile);

export const SSHD = process.env.WALSHIP_SSHD || '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const NOGROUP_GID = 65534;

/** Makes a key pair with ssh-keygen; an empty passphrase leaves the key unencrypted. */
export async function generateKey(dir, name, opts = {}) {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', opts.type ?? 'ed25519', '-N', opts.passphrase ?? '', '-C', `walship-test-${name}`, '-f', file]);
  return { privateKeyPath: file, publicKey: (await fsp.readFile(`${file}.pub`, 'utf8')).trim() };
}

/** The "type base64" part of a public key line, without its comment. */
export function keyOnly(line) {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

export class Sshd {
  host = '127.0.0.1';
  user = os.userInfo().username;
  #proc = null;
  #log = [];
  #opts;

  constructor(dir, port, hostKey, clientKey, opts) {
    this.dir = dir;
    this.port = port;
    this.hostKey = hostKey;
    this.clientKey = clientKey;
    this.#opts = opts;
  }

  static async start(opts = {}) {
    const dir = await fsp.mkdtemp(path.join(opts.baseDir ?? os.tmpdir(), opts.audit ? 'walship-sshd-audit-' : 'walship-sshd-'));
    // Traversable and readable by other users, so tests may log in as an unprivileged user too.
    await fsp.chmod(dir, 0o755);
    const hostKey = opts.keys?.hostKey ?? (await generateKey(dir, 'ssh_host_ed25519_key'));
    const clientKey = opts.keys?.clientKey ?? (await generateKey(dir, 'client_ed25519'));
    await fsp.writeFile(path.join(dir, 'authorized_keys'), `${clientKey.publicKey}\n`, { mode: 0o644 });
    if (process.getuid?.() === 0) {
      // sshd running as root needs its privilege separation directory; Debian's service unit makes it.
      await fsp.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    }
    let lastErr;
    for (let attempt = 0; attempt < 5; attempt++) {
      const sshd = new Sshd(dir, await freePort(), hostKey, clientKey, opts);
      try {
        await sshd.#launch();
        await fsp.writeFile(sshd.knownHostsPath, `${sshd.knownHostsLine}\n`);
        return sshd;
      } catch (err) {
        lastErr = err;
        await sshd.stop();
        // Someone else took the port between probing and binding; try another.
        if (!/Address already in use|Bind to port/.test(String(err))) break;
      }
    }
    await fsp.rm(dir, { recursive: true, force: true });
    throw lastErr;
  }

  get configPath() {
    return path.join(this.dir, 'sshd_config');
  }

  /** The host key as an authorized_keys style line, for the host-key setting. */
  get hostKeyLine() {
    return keyOnly(this.hostKey.publicKey);
  }

  /** A known_hosts line for this server, as ssh-keyscan -p PORT prints it. */
  get knownHostsLine() {
    return `[${this.host}]:${this.port} ${this.hostKeyLine}`;
  }

  /** A known_hosts file holding `knownHostsLine`. */
  get knownHostsPath() {
    return path.join(this.dir, 'known_hosts');
  }

  get logs() {
    return this.#log.join('\n');
  }

  get pid() {
    return this.#proc?.pid ?? null;
  }

  /** Settings for an SftpReplicaClient that logs in with the generated client key. */
  settings(over = {}) {
    return {
      host: this.host,
      port: this.port,
      user: this.user,
      password: null,
      keyPath: this.clientKey.privateKeyPath,
      keyPassphrase: null,
      hostKey: this.hostKeyLine,
      knownHostsPath: null,
      insecureSkipHostKeyCheck: false,
      ...over,
    };
  }

  /** An sftp:// URL for a path on this server. */
  sftpUrl(remotePath) {
    return `sftp://${encodeURIComponent(this.user)}@${this.host}:${this.port}${remotePath}`;
  }

  /** Options for OpenSSH's sftp client: batch mode, our key, our known_hosts, nothing from ~/.ssh. */
  sftpArgs() {
    // prettier-ignore
    return [
      '-q', '-P', String(this.port), '-i', this.clientKey.privateKeyPath,
      '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${this.knownHostsPath}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null', '-F', '/dev/null',
    ];
  }

  /** Lets another public key log in (sshd reads authorized_keys on every attempt). */
  async authorize(publicKey) {
    await fsp.appendFile(path.join(this.dir, 'authorized_keys'), `${publicKey}\n`);
  }

  /** Runs ssh-keyscan against this server, as a user would to fill known_hosts. */
  async keyscan(opts = {}) {
    const args = ['-T', '5', '-t', 'ed25519', '-p', String(this.port), ...(opts.hashed ? ['-H'] : []), this.host];
    const { stdout } = await run('ssh-keyscan', args);
    return stdout;
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
   * SFTP requests in the audit log since `mark`, as { id, type } ("open", "write", "posix-rename",
   * "readdir"...). sftp-server at DEBUG3 logs "request N: <type> ..." when a request arrives and
   * "request N: sent ..." when it answers; only the first kind is counted.
   */
  async requestsSince(mark) {
    const out = [];
    for (const l of await this.auditSince(mark)) {
      const m = /^debug\d: request (\d+): (?!sent )(\S+)/.exec(l);
      if (m) out.push({ id: Number(m[1]), type: m[2] });
    }
    return out;
  }

  #subsystemLine() {
    if (this.#opts.audit) return `Subsystem sftp ${SFTP_SERVER} -e -l DEBUG3 2>>${this.auditLogPath}`;
    const level = this.#opts.sftpLog === undefined ? 'INFO' : this.#opts.sftpLog;
    return level ? `Subsystem sftp internal-sftp -l ${level}` : 'Subsystem sftp internal-sftp';
  }

  async #writeConfig() {
    const o = this.#opts;
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
      this.#subsystemLine(),
      ...(o.extraConfig ?? []),
      // sshd keeps the first value of a keyword, so the override goes in a Match block (last).
      ...(o.passwordUser ? [`Match User ${o.passwordUser.name}`, '  PasswordAuthentication yes', '  AuthenticationMethods password'] : []),
    ];
    await fsp.writeFile(this.configPath, `${lines.join('\n')}\n`);
  }

  /** The password user's home, owned by it: a place it may write to. */
  get passwordUserHome() {
    return path.join(this.dir, 'home');
  }

  /** Copies of passwd and shadow with the password user added, for the private mount namespace. */
  async #writeUserFiles(user) {
    if (process.getuid?.() !== 0) throw new Error('a password user needs root: sshd runs in a private mount namespace to see it');
    await fsp.mkdir(this.passwordUserHome, { recursive: true });
    await fsp.chown(this.passwordUserHome, user.uid, NOGROUP_GID);
    const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: user.password, encoding: 'utf8' });
    const passwd = path.join(this.dir, 'passwd');
    const shadow = path.join(this.dir, 'shadow');
    await fsp.writeFile(passwd, `${await fsp.readFile('/etc/passwd', 'utf8')}${user.name}:x:${user.uid}:${NOGROUP_GID}::${this.passwordUserHome}:/bin/sh\n`);
    await fsp.writeFile(shadow, `${await fsp.readFile('/etc/shadow', 'utf8')}${user.name}:${hash.trim()}:20000:0:99999:7:::\n`, { mode: 0o600 });
    return { passwd, shadow };
  }

  async #launch() {
    await this.#writeConfig();
    this.#log = [];
    let command = SSHD;
    let args = ['-D', '-e', '-f', this.configPath];
    if (this.#opts.passwordUser) {
      const files = await this.#writeUserFiles(this.#opts.passwordUser);
      // unshare execs sh, which execs sshd: the pid stays the one stop() kills.
      const script = `mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && shift 2 && exec "$@"`;
      command = 'unshare';
      args = ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', files.passwd, files.shadow, SSHD, ...args];
    }
    const proc = track(spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
    this.#proc = proc;
    const maxLines = this.#opts.maxLogLines ?? 2000;
    let ready = false;
    onLines(proc.stderr, (line) => {
      this.#log.push(line);
      if (line.includes(`Server listening on ${this.host} port ${this.port}`)) ready = true;
      if (this.#log.length > maxLines) this.#log.splice(0, this.#log.length - maxLines);
    });
    let exited = false;
    proc.once('exit', () => (exited = true));
    proc.once('error', (err) => {
      exited = true;
      this.#log.push(`spawn ${command}: ${err.message}`);
    });
    await waitUntil(() => ready || exited, START_TIMEOUT_MS, 20);
    if (!ready) throw new Error(`sshd did not start on ${this.host}:${this.port}:\n${this.logs}`);
  }

  /** kill -9 of sshd and every process under it (the per-connection children too). */
  async stop() {
    const proc = this.#proc;
    if (!proc || proc.pid === undefined) return;
    this.#proc = null;
    const root = proc.pid;
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
    // Freeze the tree before collecting it, so nothing forks or gets reparented under our feet.
    const tree = new Set([root]);
    signalAll([root], 'SIGSTOP');
    for (let round = 0; round < 10; round++) {
      const fresh = descendants(root).filter((p) => !tree.has(p));
      if (fresh.length === 0) break;
      for (const p of fresh) tree.add(p);
      signalAll(fresh, 'SIGSTOP');
    }
    signalAll([...tree], 'SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS))]);
    await waitUntil(() => [...tree].every(isGone), STOP_TIMEOUT_MS, 20);
  }

  /**
   * SIGSTOPs sshd and every process under it: connections stay open but nothing answers, as with a
   * hung server or a silent network. Returns a function that lets them run again.
   */
  pause() {
    const root = this.#proc?.pid;
    if (root === undefined) return () => undefined;
    return stopUntilResumed([root, ...descendants(root)]);
  }

  /** kill -9 of every connection's processes; the listener stays, so clients can reconnect at once. */
  dropConnections() {
    const root = this.#proc?.pid;
    if (root !== undefined) signalAll(descendants(root), 'SIGKILL');
  }

  /**
   * SIGSTOPs only the leaves of sshd's tree, the processes running internal-sftp for each session.
   * The session processes above them still answer keepalives, so the connection looks alive while
   * no SFTP request is answered. Returns a function that lets them run again.
   */
  pauseSftpSubsystems() {
    const root = this.#proc?.pid;
    if (root === undefined) return () => undefined;
    const tree = descendants(root);
    const leaves = tree.filter((p) => !tree.some((q) => parentOf(q) === p));
    return stopUntilResumed(leaves);
  }

  /** Starts sshd again on the same port with the same host key and authorized keys. */
  async restart() {
    await this.stop();
    let lastErr;
    // The port was just released; binding again may take a moment if the kernel is slow to let go.
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await this.#launch();
        return;
      } catch (err) {
        lastErr = err;
        await this.stop();
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw lastErr;
  }

  async cleanup() {
    await this.stop();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
