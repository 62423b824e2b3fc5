import type { SftpSettings } from '../../src/config/types.js';

export const SSHD: string;

export interface SshKeyPair {
  privateKeyPath: string;
  /** The .pub line: "ssh-ed25519 AAAA... comment". */
  publicKey: string;
}

export function generateKey(dir: string, name: string, opts?: { passphrase?: string; type?: 'ed25519' | 'ecdsa' | 'rsa' }): Promise<SshKeyPair>;
export function keyOnly(line: string): string;

export interface SshdOptions {
  /** Extra sshd_config lines, appended last. */
  extraConfig?: string[];
  /**
   * A user who logs in with this password (and only with it). The user exists only for this sshd:
   * it runs in a private mount namespace where copies of /etc/passwd and /etc/shadow with the user
   * added are mounted over the real ones, which stay untouched. Needs root.
   */
  passwordUser?: { name: string; password: string; uid: number };
  /** Where the server's temporary directory is made (default: the OS temp dir). */
  baseDir?: string;
  /** Reuse another server's keys. */
  keys?: { hostKey: SshKeyPair; clientKey: SshKeyPair };
  /** internal-sftp's log level (default INFO); null logs nothing. */
  sftpLog?: string | null;
  /** Serve SFTP with sftp-server -l DEBUG3 into auditLogPath: one line per request. */
  audit?: boolean;
  /** How many of sshd's stderr lines `logs` keeps (default 2000). */
  maxLogLines?: number;
}

export class Sshd {
  readonly host: string;
  readonly user: string;
  readonly dir: string;
  port: number;
  readonly hostKey: SshKeyPair;
  readonly clientKey: SshKeyPair;
  private constructor();
  static start(opts?: SshdOptions): Promise<Sshd>;
  get configPath(): string;
  get hostKeyLine(): string;
  get knownHostsLine(): string;
  get knownHostsPath(): string;
  get logs(): string;
  get pid(): number | null;
  settings(over?: Partial<SftpSettings>): SftpSettings;
  sftpUrl(remotePath: string): string;
  sftpArgs(): string[];
  authorize(publicKey: string): Promise<void>;
  keyscan(opts?: { hashed?: boolean }): Promise<string>;
  get auditLogPath(): string;
  mark(): Promise<number>;
  auditSince(mark: number): Promise<string[]>;
  requestsSince(mark: number): Promise<Array<{ id: number; type: string }>>;
  get passwordUserHome(): string;
  stop(): Promise<void>;
  pause(): () => void;
  dropConnections(): void;
  pauseSftpSubsystems(): () => void;
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}
