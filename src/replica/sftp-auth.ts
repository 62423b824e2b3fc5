// Client credentials for SFTP replicas: a private key file (key-path, else ~/.ssh/id_ed25519, id_ecdsa,
// id_rsa, as ssh tries them) and/or a password. Secrets stay in memory and out of every message.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ParsedKey } from 'ssh2';
import { loadSsh2 } from './ssh2-lib.js';
import type { SftpSettings } from '../config/types.js';

export const DEFAULT_KEY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const;

export interface SftpCredentials {
  /** Where the key was read from, for messages; null without a key. */
  keyPath: string | null;
  /** The key file's content, checked to parse with the passphrase. */
  key: Buffer | null;
  passphrase: string | null;
  password: string | null;
}

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

/** Reads and decrypts the key once per connect, so a rotated secret file is picked up on reconnect. */
export async function loadCredentials(s: SftpSettings, home: string): Promise<SftpCredentials> {
  if (s.keyPath) {
    return { keyPath: s.keyPath, key: await loadKey(s.keyPath, s.keyPassphrase), passphrase: s.keyPassphrase, password: s.password };
  }
  const tried: string[] = [];
  for (const name of DEFAULT_KEY_FILES) {
    const file = path.join(home, '.ssh', name);
    tried.push(file);
    let key: Buffer;
    try {
      key = await loadKey(file, s.keyPassphrase);
    } catch (err) {
      if (err instanceof MissingKeyError) continue;
      // With a password configured, an unusable default key is not worth failing for.
      if (s.password !== null) continue;
      throw err;
    }
    return { keyPath: file, key, passphrase: s.keyPassphrase, password: s.password };
  }
  if (s.password !== null) return { keyPath: null, key: null, passphrase: null, password: s.password };
  throw new CredentialsError(`no credentials: set key-path or password (no usable key at ${tried.join(', ')})`);
}

class MissingKeyError extends CredentialsError {}

/** Reads a key file and makes sure it parses (and decrypts), so a bad key fails with a clear message. */
async function loadKey(file: string, passphrase: string | null): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fsp.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MissingKeyError(`private key ${file} does not exist`);
    throw new CredentialsError(`cannot read private key ${file}: ${code ?? 'error'}`);
  }
  const ssh2 = await loadSsh2();
  const parsed = ssh2.utils.parseKey(data, passphrase ?? undefined);
  if (parsed instanceof Error) {
    // ssh2's messages name the problem, never the passphrase; still, only fixed wording leaves here.
    const msg = parsed.message;
    if (/no passphrase given/i.test(msg)) throw new CredentialsError(`private key ${file} is encrypted: set key-passphrase`);
    if (/passphrase|decrypt|integrity/i.test(msg)) throw new CredentialsError(`cannot decrypt private key ${file}: wrong key-passphrase?`);
    throw new CredentialsError(`cannot parse private key ${file}: unsupported or malformed key`);
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key || key.getPrivatePEM() === null) throw new CredentialsError(`${file} holds no private key (is it the .pub file?)`);
  return data;
}
