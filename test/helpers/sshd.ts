// A real OpenSSH sshd for integration tests (Debian: openssh-server, openssh-client for ssh-keygen and
// ssh-keyscan). It listens on a free 127.0.0.1 port with a temporary ed25519 host key and an
// authorized_keys file for a generated client key, serves SFTP with internal-sftp, and can be killed
// (-9, with every child) and restarted on the same port with the same host key.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { SftpSettings } from '../../src/config/types.js';
import { freePort } from './ports.js';

const run = promisify(execFile);

export const SSHD = process.env.WALSHIP_SSHD || '/usr/sbin/sshd';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export interface SshKeyPair {
  privateKeyPath: string;
  /** The .pub line: "ssh-ed25519 AAAA... comment". */
  publicKey: string;
}

/** Makes a key pair with ssh-keygen; an empty passphrase leaves the key unencrypted. */
export async function generateKey(
  dir: string,
  name: string,
  opts: { passphrase?: string; type?: 'ed25519' | 'ecdsa' | 'rsa' } = {},
): Promise<SshKeyPair> {
  const file = path.join(dir, name);
  await run('ssh-keygen', ['-q', '-t', opts.type ?? 'ed25519', '-N', opts.passphrase ?? '', '-C', `walship-test-${name}`, '-f', file]);
  return { privateKeyPath: file, publicKey: (await fsp.readFile(`${file}.pub`, 'utf8')).trim() };
}

/** The "type base64" part of a public key line, without its comment. */
export function keyOnly(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}


/** All processes under `root`, from /proc (sshd's per-connection children call setsid, so a process group misses them). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Sends a signal to each process; one already gone is skipped. */
function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone meanwhile
    }
  }
}

/** SIGSTOPs the processes and returns the function that lets them run again. */
function stopUntilResumed(pids: number[]): () => void {
  // A connection's processes may be exiting as we look (a client that just closed): skip those.
  signalAll(pids, 'SIGSTOP');
  return () => signalAll(pids, 'SIGCONT');
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}

export interface SshdOptions {
  /** Extra sshd_config lines, appended last. */
  extraConfig?: string[];
  /**
   * A user who logs in with this password (and only with it). The user exists only for this sshd:
   * it runs in a private mount namespace where copies of /etc/passwd and /etc/shadow with the user
   * added are mounted over the real ones, which stay untouched. Needs root.
   */
  passwordUser?: { name: string; password: string; uid: number };
}

const NOGROUP_GID = 65534;

export class Sshd {
  readonly host = '127.0.0.1';
  readonly user = os.userInfo().username;
  private proc: ChildProcess | null = null;
  private log: string[] = [];

  private constructor(
    readonly dir: string,
    public port: number,
    readonly hostKey: SshKeyPair,
    readonly clientKey: SshKeyPair,
    private readonly opts: SshdOptions,
  ) {}

  static async start(opts: SshdOptions = {}): Promise<Sshd> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'walship-sshd-'));
    // Traversable and readable by other users, so tests may log in as an unprivileged user too.
    await fsp.chmod(dir, 0o755);
    const hostKey = await generateKey(dir, 'ssh_host_ed25519_key');
    const clientKey = await generateKey(dir, 'client_ed25519');
    await fsp.writeFile(path.join(dir, 'authorized_keys'), `${clientKey.publicKey}\n`, { mode: 0o644 });
    if (process.getuid?.() === 0) {
      // sshd running as root needs its privilege separation directory; Debian's service unit makes it.
      await fsp.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    }
    let lastErr: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const sshd = new Sshd(dir, await freePort(), hostKey, clientKey, opts);
      try {
        await sshd.launch();
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

  get configPath(): string {
    return path.join(this.dir, 'sshd_config');
  }

  /** The host key as an authorized_keys style line, for the host-key setting. */
  get hostKeyLine(): string {
    return keyOnly(this.hostKey.publicKey);
  }

  /** A known_hosts line for this server, as ssh-keyscan -p PORT prints it. */
  get knownHostsLine(): string {
    return `[${this.host}]:${this.port} ${this.hostKeyLine}`;
  }

  get logs(): string {
    return this.log.join('\n');
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  /** Settings for an SftpReplicaClient that logs in with the generated client key. */
  settings(over: Partial<SftpSettings> = {}): SftpSettings {
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

  /** Lets another public key log in (sshd reads authorized_keys on every attempt). */
  async authorize(publicKey: string): Promise<void> {
    await fsp.appendFile(path.join(this.dir, 'authorized_keys'), `${publicKey}\n`);
  }

  /** Runs ssh-keyscan against this server, as a user would to fill known_hosts. */
  async keyscan(opts: { hashed?: boolean } = {}): Promise<string> {
    const args = ['-T', '5', '-t', 'ed25519', '-p', String(this.port), ...(opts.hashed ? ['-H'] : []), this.host];
    const { stdout } = await run('ssh-keyscan', args);
    return stdout;
  }

  private async writeConfig(): Promise<void> {
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
      // INFO logs each open, close and rename: the trace that tells a lost request from a slow one.
      'Subsystem sftp internal-sftp -l INFO',
      ...(this.opts.extraConfig ?? []),
      // sshd keeps the first value of a keyword, so the override goes in a Match block (last).
      ...(this.opts.passwordUser ? [`Match User ${this.opts.passwordUser.name}`, '  PasswordAuthentication yes', '  AuthenticationMethods password'] : []),
    ];
    await fsp.writeFile(this.configPath, `${lines.join('\n')}\n`);
  }

  /** The password user's home, owned by it: a place it may write to. */
  get passwordUserHome(): string {
    return path.join(this.dir, 'home');
  }

  /** Copies of passwd and shadow with the password user added, for the private mount namespace. */
  private async writeUserFiles(user: NonNullable<SshdOptions['passwordUser']>): Promise<{ passwd: string; shadow: string }> {
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

  private async launch(): Promise<void> {
    await this.writeConfig();
    this.log = [];
    let command = SSHD;
    let args = ['-D', '-e', '-f', this.configPath];
    if (this.opts.passwordUser) {
      const files = await this.writeUserFiles(this.opts.passwordUser);
      // unshare execs sh, which execs sshd: the pid stays the one stop() kills.
      const script = `mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && shift 2 && exec "$@"`;
      command = 'unshare';
      args = ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', files.passwd, files.shadow, SSHD, ...args];
    }
    const proc = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let buf = '';
    let ready = false;
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        this.log.push(line);
        if (line.includes(`Server listening on ${this.host} port ${this.port}`)) ready = true;
      }
      if (this.log.length > 2000) this.log.splice(0, this.log.length - 2000);
    });
    let exited = false;
    proc.once('exit', () => (exited = true));
    proc.once('error', (err) => {
      exited = true;
      this.log.push(`spawn ${command}: ${err.message}`);
    });
    await waitFor(() => ready || exited, START_TIMEOUT_MS);
    if (!ready) throw new Error(`sshd did not start on ${this.host}:${this.port}:\n${this.logs}`);
  }

  /** kill -9 of sshd and every process under it (the per-connection children too). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.pid === undefined) return;
    this.proc = null;
    const root = proc.pid;
    const exited = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => proc.once('exit', () => r()));
    // Freeze the tree before collecting it, so nothing forks or gets reparented under our feet.
    const tree = new Set<number>([root]);
    try {
      process.kill(root, 'SIGSTOP');
    } catch {
      // already gone
    }
    for (let round = 0; round < 10; round++) {
      let added = false;
      for (const p of descendants(root)) {
        if (tree.has(p)) continue;
        tree.add(p);
        added = true;
        try {
          process.kill(p, 'SIGSTOP');
        } catch {
          // already gone
        }
      }
      if (!added) break;
    }
    for (const p of tree) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS))]);
    await waitFor(() => [...tree].every(isGone), STOP_TIMEOUT_MS);
  }

  /**
   * SIGSTOPs sshd and every process under it: connections stay open but nothing answers, as with a
   * hung server or a silent network. Returns a function that lets them run again.
   */
  pause(): () => void {
    const root = this.proc?.pid;
    if (root === undefined) return () => undefined;
    return stopUntilResumed([root, ...descendants(root)]);
  }

  /** kill -9 of every connection's processes; the listener stays, so clients can reconnect at once. */
  dropConnections(): void {
    const root = this.proc?.pid;
    if (root !== undefined) signalAll(descendants(root), 'SIGKILL');
  }

  /**
   * SIGSTOPs only the leaves of sshd's tree, the processes running internal-sftp for each session.
   * The session processes above them still answer keepalives, so the connection looks alive while
   * no SFTP request is answered. Returns a function that lets them run again.
   */
  pauseSftpSubsystems(): () => void {
    const root = this.proc?.pid;
    if (root === undefined) return () => undefined;
    const tree = descendants(root);
    const leaves = tree.filter((p) => !tree.some((q) => parentOf(q) === p));
    return stopUntilResumed(leaves);
  }

  /** Starts sshd again on the same port with the same host key and authorized keys. */
  async restart(): Promise<void> {
    await this.stop();
    let lastErr: unknown;
    // The port was just released; binding again may take a moment if the kernel is slow to let go.
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await this.launch();
        return;
      } catch (err) {
        lastErr = err;
        await this.stop();
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw lastErr;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
