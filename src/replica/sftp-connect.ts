// Opens one SSH connection and starts its SFTP subsystem: host key check, authentication, the
// ready and subsystem timeouts, keepalive settings and TCP_NODELAY. What happens to the connection
// afterwards (reuse, loss, reconnect, close) is sftp-session.ts.
import os from 'node:os';
import type { Logger } from 'pino';
import type { AuthenticationType, Client, ConnectConfig, SFTPWrapper } from 'ssh2';
import { loadSsh2 } from './ssh2-lib.js';
import type { SftpSettings } from '../config/types.js';
import { type HostKeyError, hostKeyPolicy, loadHostKeyCheck } from './host-key.js';
import { fingerprint } from './known-hosts.js';
import { loadCredentials, type SftpCredentials } from './sftp-auth.js';

/** The client was closed (or is closing) while this waited: not a failure of the server. */
export class ClosedError extends Error {
  override name = 'ClosedError';
}

export interface ConnectOptions {
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** Aborting gives up at once. */
  stop: AbortSignal;
  /** Where the replica lives, for the warning an unverified host key draws. */
  location: string;
  logger?: Logger | undefined;
}

export interface OpenedConnection {
  conn: Client;
  raw: SFTPWrapper;
  /** The SHA256 fingerprint the server presented. */
  hostKey: string;
}

export function homeDir(): string {
  return process.env.HOME || os.homedir();
}

/** Throws the configuration error a malformed host-key setting is, without connecting. */
export function checkHostKeySettings(settings: SftpSettings): void {
  hostKeyPolicy(settings, homeDir());
}

/** Connects, verifies the host key, authenticates and starts the SFTP subsystem. */
export async function openSftpConnection(settings: SftpSettings, opts: ConnectOptions): Promise<OpenedConnection> {
  const { host, port, user } = settings;
  const { readyTimeoutMs, stop } = opts;
  const home = homeDir();
  const policy = hostKeyPolicy(settings, home);
  const creds = await loadCredentials(settings, home);
  const hostCheck = await loadHostKeyCheck(policy, host, port);
  const ssh2 = await loadSsh2();
  return new Promise<OpenedConnection>((resolve, reject) => {
    const conn = new ssh2.Client();
    let refused: HostKeyError | null = null;
    let hostKey = '';
    let settled = false;
    const onStop = (): void => {
      conn.destroy();
      fail(new ClosedError('client closed while connecting'));
    };
    const fail = (err: Error): void => {
      stop.removeEventListener('abort', onStop);
      if (settled) return;
      settled = true;
      conn.end();
      reject(err instanceof ClosedError ? err : (refused ?? connectError(settings, err, creds)));
    };
    if (stop.aborted) return onStop();
    stop.addEventListener('abort', onStop, { once: true });
    // Stays attached for the connection's life, so a late error is never unhandled.
    conn.on('error', fail);
    conn.on('close', () => fail(new Error('connection closed before the SFTP session started')));
    conn.on('ready', () => {
      // The handshake is done, but the subsystem request has no timeout of its own.
      const subsystemTimer = setTimeout(() => {
        fail(new Error(`the server did not start the SFTP subsystem within ${readyTimeoutMs} ms`));
        conn.destroy();
      }, readyTimeoutMs);
      conn.sftp((err, raw) => {
        clearTimeout(subsystemTimer);
        if (err) return fail(err);
        if (settled) return void conn.end();
        settled = true;
        stop.removeEventListener('abort', onStop);
        resolve({ conn, raw, hostKey });
      });
    });
    const config: ConnectConfig = {
      host,
      port,
      username: user,
      readyTimeout: readyTimeoutMs,
      keepaliveInterval: opts.keepaliveIntervalMs,
      keepaliveCountMax: opts.keepaliveCountMax,
      authHandler: authMethods(creds),
      hostVerifier: (key: Buffer): boolean => {
        hostKey = fingerprint(key);
        if (policy.kind === 'insecure') warnInsecure(opts, hostKey);
        refused = hostCheck.check(key);
        return refused === null;
      },
    };
    if (hostCheck.algorithms) config.algorithms = { serverHostKey: hostCheck.algorithms };
    if (creds.key) {
      config.privateKey = creds.key;
      if (creds.passphrase !== null) config.passphrase = creds.passphrase;
    }
    if (creds.password !== null) config.password = creds.password;
    try {
      conn.connect(config);
      // Without ssh2's optional native crypto binding (an install can quietly fail to build it:
      // a fresh npm ci here did), a packet goes out in several socket writes, and Nagle's
      // algorithm then holds each small request for a delayed ACK: about 40 ms per round trip, a
      // quarter second per small upload. Requests are sent whole anyway; nothing is lost by this.
      conn.setNoDelay(true);
    } catch (err) {
      fail(err as Error);
    }
  });
}

function authMethods(creds: SftpCredentials): AuthenticationType[] {
  const methods: AuthenticationType[] = [];
  if (creds.key) methods.push('publickey');
  if (creds.password !== null) methods.push('password');
  return methods;
}

function warnInsecure(opts: ConnectOptions, hostKey: string): void {
  const msg = `insecure-skip-host-key-check is set: connecting to ${opts.location} without verifying its host key (server presented ${hostKey})`;
  if (opts.logger) opts.logger.warn({ event: 'host_key_unverified', hostKey }, msg);
  else process.emitWarning(msg);
}

function connectError(settings: SftpSettings, err: Error, creds: SftpCredentials): Error {
  const level = (err as Error & { level?: string }).level;
  const { host, port, user } = settings;
  if (level === 'client-authentication') {
    const tried = [creds.key ? `publickey (${creds.keyPath})` : null, creds.password !== null ? 'password' : null].filter(Boolean).join(', ');
    return new Error(`authentication failed for user "${user}" (tried ${tried}); is the public key in the server's authorized_keys?`, { cause: err });
  }
  if (level === 'client-timeout') {
    return new Error(`no SSH handshake with ${host}:${port} in time (ready timeout)`, { cause: err });
  }
  return new Error(`cannot connect to ${host}:${port}: ${err.message}`, { cause: err });
}
