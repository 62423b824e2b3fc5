// Replica URLs: file:///dir, a plain /dir, sftp://user@host[:port]/path, or s3://BUCKET/PATH.
import { parseS3Url, type ParsedS3Url } from './s3-url.js';
import { excerpt, quote } from './text.js';

export type ParsedReplicaUrl =
  | { type: 'file'; path: string }
  | { type: 'sftp'; host: string; port: number | null; user: string | null; password: string | null; path: string }
  | ParsedS3Url;

export class ReplicaUrlError extends Error {
  override name = 'ReplicaUrlError';
}

export function parseReplicaUrl(text: string): ParsedReplicaUrl {
  if (!text.includes('://')) {
    if (text.trim() === '') throw new ReplicaUrlError('empty replica URL');
    return { type: 'file', path: text };
  }
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ReplicaUrlError(`not a valid URL: ${shown(text)}`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme === 'file') {
    if (u.host !== '' && u.host !== 'localhost') throw new ReplicaUrlError(`file URL must not name a host: ${shown(text)}`);
    const p = decodeURIComponent(u.pathname);
    if (p === '' || p === '/') throw new ReplicaUrlError(`file URL needs a directory path: ${shown(text)}`);
    return { type: 'file', path: p };
  }
  if (scheme === 'sftp') {
    if (!u.hostname) throw new ReplicaUrlError(`sftp URL needs a host: ${shown(text)}`);
    const p = decodeURIComponent(u.pathname);
    return {
      type: 'sftp',
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : null,
      user: u.username ? decodeURIComponent(u.username) : null,
      password: u.password ? decodeURIComponent(u.password) : null,
      path: p === '' ? '/' : p,
    };
  }
  if (scheme === 's3') {
    const r = parseS3Url(u);
    if (typeof r === 'string') throw new ReplicaUrlError(`${r}: ${redactUrl(text)}`);
    return r;
  }
  throw new ReplicaUrlError(`unsupported replica scheme ${quote(scheme)} (walship supports file, sftp and s3)`);
}

/** A URL safe to print: any password is replaced. */
export function redactUrl(text: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)$/s.exec(text);
  if (!m) return text;
  const rest = m[2]!;
  // In a URL that parses, the user info ends at the last "@" before the path, so a password may hold
  // "@". In one that does not (an unencoded "/" in the password, say), take the last "@" anywhere.
  const authorityEnd = URL.canParse(text) ? rest.search(/[/?#]|$/) : rest.length;
  const at = rest.lastIndexOf('@', authorityEnd - 1);
  const colon = rest.indexOf(':');
  if (at <= 0 || colon < 0 || colon > at) return text;
  return `${m[1]}${rest.slice(0, colon)}:****${rest.slice(at)}`;
}

/** A URL as error messages show it: redacted, and cut short. */
function shown(text: string): string {
  return excerpt(redactUrl(text));
}
