// Host key verification for SFTP replicas. It is always on: a pinned key (host-key) or a known_hosts
// file decides, and only insecure-skip-host-key-check turns it off. Refusals say what to do next.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import type { SftpSettings } from '../config/types.js';
import {
  blobKeyType,
  fingerprint,
  hostFieldMatches,
  knownHostsName,
  parseKnownHosts,
  parsePublicKeyLine,
  type KnownHostsEntry,
  type PublicKey,
} from './known-hosts.js';

export type HostKeyErrorKind = 'unknown' | 'mismatch' | 'revoked' | 'config';

export class HostKeyError extends Error {
  override name = 'HostKeyError';
  constructor(
    readonly kind: HostKeyErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export type HostKeyPolicy =
  | { kind: 'pinned'; key: PublicKey }
  | { kind: 'known-hosts'; path: string }
  | { kind: 'insecure' };

/** Decides how a replica's host key is checked. A host-key setting wins over a known_hosts file. */
export function hostKeyPolicy(s: SftpSettings, home: string): HostKeyPolicy {
  if (s.insecureSkipHostKeyCheck) return { kind: 'insecure' };
  if (s.hostKey) {
    const key = parsePublicKeyLine(s.hostKey);
    if (!key) {
      throw new HostKeyError('config', 'host-key is not a public key line such as "ssh-ed25519 AAAAC3Nza... comment"');
    }
    return { kind: 'pinned', key };
  }
  return { kind: 'known-hosts', path: s.knownHostsPath ?? path.join(home, '.ssh', 'known_hosts') };
}

export interface HostKeyCheck {
  /** Host key algorithms to offer, those of known keys first (as ssh does), or null for ssh2's default. */
  readonly algorithms: ServerHostKeyAlgorithm[] | null;
  /** Null when the presented key is accepted. */
  check(blob: Buffer): HostKeyError | null;
}

// Every host key algorithm ssh2 offers by default, in its order.
const ALGORITHMS: ServerHostKeyAlgorithm[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

function algorithmsFor(keyType: string): ServerHostKeyAlgorithm[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return ALGORITHMS.filter((a) => a === keyType);
}

function preferKnown(types: string[]): ServerHostKeyAlgorithm[] | null {
  const first = [...new Set(types.flatMap(algorithmsFor))];
  if (first.length === 0) return null;
  return [...first, ...ALGORITHMS.filter((a) => !first.includes(a))];
}

function describeKey(key: PublicKey): string {
  return `${key.type} ${fingerprint(key.blob)}`;
}

function presented(blob: Buffer): PublicKey {
  return { type: blobKeyType(blob) ?? 'unknown', blob };
}

/**
 * Loads what the policy needs for one connection. The known_hosts file is read on every connect, so
 * fixing it takes effect without a restart.
 */
export async function loadHostKeyCheck(policy: HostKeyPolicy, host: string, port: number): Promise<HostKeyCheck> {
  const name = knownHostsName(host, port);
  const keyscan = `ssh-keyscan -p ${port} ${host}`;
  switch (policy.kind) {
    case 'insecure':
      return { algorithms: null, check: () => null };
    case 'pinned':
      return {
        algorithms: preferKnown([policy.key.type]),
        check(blob) {
          if (blob.equals(policy.key.blob)) return null;
          return new HostKeyError(
            'mismatch',
            `host key mismatch for ${name}: expected ${describeKey(policy.key)} (from host-key), ` +
              `server presented ${describeKey(presented(blob))}; refusing to connect. If the server's key changed ` +
              `on purpose, check it out of band (\`${keyscan} | ssh-keygen -lf -\`) and update host-key.`,
          );
        },
      };
    case 'known-hosts':
      return knownHostsCheck(policy.path, name, keyscan);
  }
}

async function knownHostsCheck(file: string, name: string, keyscan: string): Promise<HostKeyCheck> {
  let text = '';
  let missing = false;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new HostKeyError('config', `cannot read known_hosts file ${file}: ${(err as Error).message}`);
    }
    missing = true;
  }
  const matching = parseKnownHosts(text).entries.filter((e) => hostFieldMatches(e.hosts, name));
  // Host certificates are not supported by ssh2, so @cert-authority lines cannot vouch for a key.
  const plain = matching.filter((e) => e.marker === null);
  const revoked = matching.filter((e) => e.marker === 'revoked');
  const where = (e: KnownHostsEntry): string => `${file}:${e.line}`;
  return {
    algorithms: preferKnown(plain.map((e) => e.key.type)),
    check(blob) {
      const key = presented(blob);
      const bad = revoked.find((e) => e.key.blob.equals(blob));
      if (bad) {
        return new HostKeyError('revoked', `host key ${describeKey(key)} of ${name} is marked @revoked in ${where(bad)}; refusing to connect`);
      }
      if (plain.some((e) => e.key.blob.equals(blob))) return null;
      if (plain.length === 0) {
        const why = missing
          ? `${file} does not exist`
          : matching.length > 0
            ? `${file} has only @cert-authority entries for it (host certificates are not supported)`
            : `${file} has no entry for it`;
        return new HostKeyError(
          'unknown',
          `host key of ${name} is unknown: ${why}; server presented ${describeKey(key)}. ` +
            `Check that fingerprint with the server's administrator, then add the key with ` +
            `\`${keyscan} >> ${file}\` or set host-key to the line \`${keyscan}\` prints.`,
        );
      }
      const expected = plain.map((e) => `${describeKey(e.key)} (${where(e)})`).join(', ');
      return new HostKeyError(
        'mismatch',
        `host key mismatch for ${name}: expected ${expected}, server presented ${describeKey(key)}; refusing to connect. ` +
          `If the server's key changed on purpose, check it out of band and replace the entry (\`ssh-keygen -R '${name}' -f ${file}\`, then \`${keyscan} >> ${file}\`).`,
      );
    },
  };
}
