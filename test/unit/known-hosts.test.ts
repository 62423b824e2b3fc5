// known_hosts parsing and host matching, checked against lines and fingerprints that OpenSSH's own
// ssh-keygen produced (ssh-keygen -H for the hashed names, ssh-keygen -l for the fingerprints).
import { describe, expect, test } from 'vitest';
import {
  blobKeyType,
  fingerprint,
  globMatch,
  hostFieldMatches,
  knownHostsName,
  parseKnownHosts,
  parsePublicKeyLine,
} from '../../src/replica/known-hosts.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7W7EZ1AKfCQ7UYR2Yls4kwnHtPyVfuhaZj4tqFTIBt';
const ED25519_FP = 'SHA256:1IEGMSt6cQgCnX7JJrcXm5spkM+A1wZx9d9kTGFf7Rs';
const ECDSA =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAMiHfHpYUNnAKJnJBWwAci/mpv44SzdGOrSArFI3GlXKUVFME5Tx/p1IIRvFuXMjpqvh3i2ShcUZP16sHx/Gw4=';
const ECDSA_FP = 'SHA256:I1Xe7iq2HewvcgD3kfYEAtcC75cTygvChRT5Id89ZRE';

// `ssh-keygen -H` of "example.com", "[127.0.0.1]:2222" and "db.example.org,10.0.0.5" lines.
const HASHED_EXAMPLE_COM = '|1|x5U7ewHEDPZ0D4Rjo7LP7LmbK7Y=|m6Iba/4Xb9OShFfVKBv/2y7OpRA=';
const HASHED_LOCAL_2222 = '|1|tk3AFcjQeomM/0H8iUEnE9oVQug=|zsD+OSCBiqHbYb0KZJlAMY6k3jU=';
const HASHED_DB = '|1|+cF98u7sbrjQ7uohL6ZfBesAAyQ=|JyZ0mJSsIsoYi85kiSNK/bBqy3E=';
const HASHED_10_0_0_5 = '|1|ss0beQny45K28SmB8r1LmdKALMs=|I5ry+CzPfBr7p4c58gLsAepxY8k=';

describe('public keys', () => {
  test('fingerprints match ssh-keygen -l', () => {
    expect(fingerprint(parsePublicKeyLine(ED25519)!.blob)).toBe(ED25519_FP);
    expect(fingerprint(parsePublicKeyLine(ECDSA)!.blob)).toBe(ECDSA_FP);
  });

  test('authorized_keys style lines, with comment or options', () => {
    const k = parsePublicKeyLine(`${ED25519} user@host`)!;
    expect(k.type).toBe('ssh-ed25519');
    expect(blobKeyType(k.blob)).toBe('ssh-ed25519');
    expect(parsePublicKeyLine(`from="10.0.0.1",no-pty ${ED25519} comment with spaces`)?.type).toBe('ssh-ed25519');
    expect(parsePublicKeyLine(`  ${ECDSA}  `)?.type).toBe('ecdsa-sha2-nistp256');
  });

  test('rejects lines that are not keys, or whose blob names another type', () => {
    expect(parsePublicKeyLine('')).toBeNull();
    expect(parsePublicKeyLine('ssh-ed25519')).toBeNull();
    expect(parsePublicKeyLine('ssh-ed25519 not!base64')).toBeNull();
    expect(parsePublicKeyLine(`ssh-rsa ${ED25519.split(' ')[1]}`)).toBeNull();
    expect(parsePublicKeyLine('ssh-ed25519 AAAA')).toBeNull();
  });
});

describe('known_hosts parsing', () => {
  test('entries, markers, comments, blank and invalid lines', () => {
    const text = [
      '# a comment',
      '',
      `example.com,192.0.2.1 ${ED25519} trailing comment`,
      `@cert-authority *.example.org ${ECDSA}`,
      `@revoked * ${ECDSA}`,
      `${HASHED_EXAMPLE_COM} ${ED25519}`,
      'garbage line',
      `@unknown-marker host ${ED25519}`,
      `host-without-key`,
      `   # indented comment`,
    ].join('\r\n');
    const { entries, invalidLines } = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker, e.hosts, e.key.type])).toEqual([
      [3, null, 'example.com,192.0.2.1', 'ssh-ed25519'],
      [4, 'cert-authority', '*.example.org', 'ecdsa-sha2-nistp256'],
      [5, 'revoked', '*', 'ecdsa-sha2-nistp256'],
      [6, null, HASHED_EXAMPLE_COM, 'ssh-ed25519'],
    ]);
    expect(invalidLines).toEqual([7, 8, 9]);
  });

  test('the key must directly follow the host field', () => {
    expect(parseKnownHosts(`host extra ${ED25519}`).entries).toEqual([]);
  });
});

describe('host matching', () => {
  test('names: plain on port 22, bracketed otherwise, lower case', () => {
    expect(knownHostsName('Example.COM', 22)).toBe('example.com');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(knownHostsName('::1', 2222)).toBe('[::1]:2222');
  });

  test('hashed names made by ssh-keygen -H', () => {
    expect(hostFieldMatches(HASHED_EXAMPLE_COM, 'example.com')).toBe(true);
    expect(hostFieldMatches(HASHED_EXAMPLE_COM, 'example.org')).toBe(false);
    expect(hostFieldMatches(HASHED_LOCAL_2222, '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches(HASHED_LOCAL_2222, '127.0.0.1')).toBe(false);
    expect(hostFieldMatches(HASHED_LOCAL_2222, '[127.0.0.1]:2223')).toBe(false);
    // A host list is hashed into one line per name.
    expect(hostFieldMatches(HASHED_DB, 'db.example.org')).toBe(true);
    expect(hostFieldMatches(HASHED_10_0_0_5, '10.0.0.5')).toBe(true);
    expect(hostFieldMatches(HASHED_DB, '10.0.0.5')).toBe(false);
  });

  test('malformed hashed fields match nothing', () => {
    expect(hostFieldMatches('|1|', 'example.com')).toBe(false);
    expect(hostFieldMatches('|2|x5U7ewHEDPZ0D4Rjo7LP7LmbK7Y=|m6Iba/4Xb9OShFfVKBv/2y7OpRA=', 'example.com')).toBe(false);
    expect(hostFieldMatches('|1|c2FsdA==|aGFzaA==', 'example.com')).toBe(false);
  });

  test('comma-separated lists and bracketed ports', () => {
    expect(hostFieldMatches('a.example,[127.0.0.1]:2222,b.example', '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('a.example,[127.0.0.1]:2222', '127.0.0.1')).toBe(false);
    expect(hostFieldMatches('[127.0.0.1]:22', '127.0.0.1')).toBe(false);
    expect(hostFieldMatches('EXAMPLE.com', 'example.com')).toBe(true);
  });

  test('wildcards and negation', () => {
    expect(hostFieldMatches('*.example.com', 'db.example.com')).toBe(true);
    expect(hostFieldMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.7')).toBe(true);
    expect(hostFieldMatches('10.0.0.?', '10.0.0.17')).toBe(false);
    expect(hostFieldMatches('[10.0.0.*]:2222', '[10.0.0.99]:2222')).toBe(true);
    expect(hostFieldMatches('*.example.com,!bad.example.com', 'good.example.com')).toBe(true);
    expect(hostFieldMatches('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false);
    // A negation alone never matches: it only excludes.
    expect(hostFieldMatches('!bad.example.com', 'good.example.com')).toBe(false);
  });

  test('glob edge cases', () => {
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('**a', 'bba')).toBe(true);
    expect(globMatch('a*b*c', 'axxbyyc')).toBe(true);
    expect(globMatch('a*b*c', 'axxbyy')).toBe(false);
    expect(globMatch('?', '')).toBe(false);
    expect(globMatch('a.b', 'axb')).toBe(false);
  });
});
