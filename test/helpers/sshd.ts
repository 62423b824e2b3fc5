// A real OpenSSH sshd for integration tests: the shared kit's (test/kit/sshd.mjs, also used by the
// bench). It listens on a free 127.0.0.1 port with a temporary ed25519 host key and an
// authorized_keys file for a generated client key, serves SFTP with internal-sftp (or, for counting requests, sftp-server logging each one),
// and can be killed (-9, with every child), paused and restarted on the same port with the same host key.
export { SSHD, generateKey, keyOnly, Sshd } from '../kit/sshd.mjs';
export type { SshKeyPair, SshdOptions } from '../kit/sshd.mjs';
