// OpenSSH's public key lines: known_hosts entries and authorized_keys style keys, host name matching
// (patterns, negation, [host]:port, hashed |1| names) and SHA256 fingerprints, as ssh(1) does them.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface PublicKey {
  /** The key's own type, from inside the blob: "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa". */
  type: string;
  /** The wire-format public key, as the server presents it. */
  blob: Buffer;
}

export type KnownHostsMarker = 'cert-authority' | 'revoked';

export interface KnownHostsEntry {
  marker: KnownHostsMarker | null;
  /** The host field as written: a comma-separated pattern list or one hashed name. */
  hosts: string;
  key: PublicKey;
  /** 1-based, for messages that point at the line. */
  line: number;
}

export interface ParsedKnownHosts {
  entries: KnownHostsEntry[];
  /** Lines that are neither comments nor valid entries; ssh skips them too. */
  invalidLines: number[];
}

/** "SHA256:" and the unpadded base64 of the key's SHA-256, as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The name known_hosts stores for a host: "host" on port 22, "[host]:port" otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Reads the type named inside a key blob, or null when the blob is not a well-formed SSH key. */
export function blobKeyType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const n = blob.readUInt32BE(0);
  if (n === 0 || n > 64 || 4 + n > blob.length) return null;
  const type = blob.toString('latin1', 4, 4 + n);
  return /^[A-Za-z0-9@._+-]+$/.test(type) ? type : null;
}

/**
 * Finds "<type> <base64>" in a whitespace-split line and checks that the blob names the same type.
 * Searching for the pair skips authorized_keys options and known_hosts host fields alike.
 */
function findKey(tokens: string[], from: number): { key: PublicKey; index: number } | null {
  for (let i = from; i + 1 < tokens.length; i++) {
    const type = tokens[i]!;
    const b64 = tokens[i + 1]!;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
    const blob = Buffer.from(b64, 'base64');
    if (blobKeyType(blob) === type) return { key: { type, blob }, index: i };
  }
  return null;
}

/** Parses an authorized_keys style line ("ssh-ed25519 AAAA... comment", options allowed); null if none. */
export function parsePublicKeyLine(line: string): PublicKey | null {
  const tokens = line.trim().split(/\s+/);
  return findKey(tokens, 0)?.key ?? null;
}

export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostsEntry[] = [];
  const invalidLines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const lineNo = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const tokens = trimmed.split(/\s+/);
    let marker: KnownHostsMarker | null = null;
    let at = 0;
    if (tokens[0]!.startsWith('@')) {
      if (tokens[0] === '@cert-authority') marker = 'cert-authority';
      else if (tokens[0] === '@revoked') marker = 'revoked';
      else {
        invalidLines.push(lineNo);
        return;
      }
      at = 1;
    }
    const hosts = tokens[at];
    // The key must directly follow the host field; anything after it is a comment.
    const found = hosts === undefined ? null : findKey(tokens, at + 1);
    if (!hosts || !found || found.index !== at + 1) {
      invalidLines.push(lineNo);
      return;
    }
    entries.push({ marker, hosts, key: found.key, line: lineNo });
  });
  return { entries, invalidLines };
}

/**
 * Whether a known_hosts host field names `name` (as made by knownHostsName). A hashed field is
 * HMAC-SHA1(salt, name); a pattern list matches if any pattern does and no negated ("!") one does.
 */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatches(field, name);
  let matched = false;
  for (const raw of field.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '' || !globMatch(pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  // "|1|salt|hash" splits into ["", "1", salt, hash].
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  if (salt.length !== 20 || want.length !== 20) return false;
  const got = createHmac('sha1', salt).update(name).digest();
  return timingSafeEqual(got, want);
}

/** OpenSSH's wildcards: "*" for any run of characters, "?" for exactly one. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
