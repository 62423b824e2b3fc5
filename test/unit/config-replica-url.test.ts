import { describe, expect, it } from 'vitest';
import { parseReplicaUrl, redactUrl, ReplicaUrlError } from '../../src/config/replica-url.js';

function errorOf(text: string): ReplicaUrlError {
  try {
    parseReplicaUrl(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ReplicaUrlError);
    return err as ReplicaUrlError;
  }
  throw new Error(`${text} was accepted`);
}

describe('parseReplicaUrl', () => {
  it.each<[string, string]>([
    ['file:///x', '/x'],
    ['file:///var/lib/walship/replica', '/var/lib/walship/replica'],
    ['file://localhost/srv/r', '/srv/r'],
    ['file:///with%20space', '/with space'],
    ['/plain/absolute/path', '/plain/absolute/path'],
    ['relative/dir', 'relative/dir'],
    ['./replica', './replica'],
  ])('%s is a file replica at %s', (text, p) => {
    expect(parseReplicaUrl(text)).toEqual({ type: 'file', path: p });
  });

  it('sftp://user@host:2222/p names user, host, port and path', () => {
    expect(parseReplicaUrl('sftp://user@host:2222/p')).toEqual({
      type: 'sftp',
      host: 'host',
      port: 2222,
      user: 'user',
      password: null,
      path: '/p',
    });
  });

  it('sftp without a user or port leaves them null', () => {
    expect(parseReplicaUrl('sftp://backup.example.com/srv/replica')).toEqual({
      type: 'sftp',
      host: 'backup.example.com',
      port: null,
      user: null,
      password: null,
      path: '/srv/replica',
    });
  });

  it('sftp with no path means the root', () => {
    expect(parseReplicaUrl('sftp://host')).toMatchObject({ host: 'host', path: '/' });
  });

  it('decodes percent-encoded user, password and path', () => {
    expect(parseReplicaUrl('sftp://us%40er:p%2Fw%3Ad@host/a%20b')).toMatchObject({ user: 'us@er', password: 'p/w:d', path: '/a b' });
  });

  it('takes the host out of brackets for IPv6', () => {
    expect(parseReplicaUrl('sftp://u@[::1]:22/r')).toMatchObject({ host: '::1', port: 22, user: 'u' });
  });

  it.each([
    ['gs://bucket/path', /unsupported replica scheme "gs"/],
    ['http://host/path', /unsupported replica scheme "http"/],
    ['file://otherhost/x', /must not name a host/],
    ['file:///', /needs a directory path/],
    ['', /empty replica URL/],
    ['   ', /empty replica URL/],
    ['sftp://host:notaport/x', /not a valid URL/],
  ])('refuses %j', (text, message) => {
    expect(errorOf(text).message).toMatch(message);
  });
});

describe('redactUrl', () => {
  it.each<[string, string]>([
    ['sftp://user:secret@host:22/p', 'sftp://user:****@host:22/p'],
    ['sftp://user:secret@host/p', 'sftp://user:****@host/p'],
    ['sftp://:secret@host/p', 'sftp://:****@host/p'],
    ['sftp://user@host/p', 'sftp://user@host/p'],
    ['sftp://host:2222/p', 'sftp://host:2222/p'],
    ['sftp://host:22/backups@2024', 'sftp://host:22/backups@2024'],
    ['sftp://user:pw@host/backups@2024', 'sftp://user:****@host/backups@2024'],
    ['SFTP://user:pw@host/p', 'SFTP://user:****@host/p'],
    ['file:///x', 'file:///x'],
    ['/plain/path', '/plain/path'],
  ])('%s prints as %s', (text, out) => {
    expect(redactUrl(text)).toBe(out);
  });

  it('hides a password holding an unencoded "@" entirely', () => {
    // WHATWG URL parsing takes the last "@" before the path as the end of the user info.
    expect(parseReplicaUrl('sftp://user:p@ss@host/p')).toMatchObject({ user: 'user', password: 'p@ss', host: 'host' });
    expect(redactUrl('sftp://user:p@ss@host/p')).toBe('sftp://user:****@host/p');
  });

  it('never puts the password of an unparseable URL into the error', () => {
    const e = errorOf('sftp://user:pa/ss@host/p');
    expect(e.message).toMatch(/not a valid URL/);
    expect(e.message).not.toContain('pa/ss');
    expect(e.message).not.toMatch(/:pa/);
  });

  it('never puts the password into any refusal message', () => {
    for (const text of ['s3://key:topsecret@bucket/x', 'file://u:topsecret@host/x']) {
      const e = errorOf(text);
      expect(e.message).not.toContain('topsecret');
    }
  });
});
