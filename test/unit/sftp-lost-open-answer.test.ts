// An upload whose open request created the temporary file on the server, but whose answer was lost
// with the connection, must still not leave that file behind. OpenSSH cannot be made to lose exactly
// that answer, so this narrow test uses an in-process ssh2 server scripted per connection.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import ssh2, { type Connection } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { SftpReplicaClient } from '../../src/replica/sftp.js';

const { STATUS_CODE } = ssh2.utils.sftp;

let server: ssh2.Server | null = null;
let dir: string | null = null;
afterEach(() => {
  server?.close();
  server = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

type Script = (client: Connection, sftp: ssh2.SFTPWrapper) => void;

/** A server whose n-th connection runs scripts[n] on its SFTP session (past the last: dropped at once). */
async function scriptedServer(hostKey: string, scripts: Script[]): Promise<number> {
  let n = 0;
  server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    const script = scripts[n++];
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () => {
      if (!script) return void client.end();
      client.on('session', (accept) => {
        accept().on('sftp', (acceptSftp) => script(client, acceptSftp()));
      });
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('an upload whose open got no answer', () => {
  it('removes the temporary file the server created, at the latest when the client closes', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'walship-lost-open-'));
    const root = path.join(dir, 'replica');
    const levelDir = path.join(root, 'ltx', '0');
    const local = path.join(dir, 'staged.ltx');
    writeFileSync(local, Buffer.alloc(100, 7));
    const created: string[] = [];
    const removed: string[] = [];
    const keys = ssh2.utils.generateKeyPairSync('ed25519');
    const port = await scriptedServer(keys.private, [
      // First connection: the directory exists; OPEN creates the file, then the connection dies unanswered.
      (client, sftp) => {
        sftp.on('STAT', (id) => sftp.attrs(id, { mode: 0o40755, uid: 0, gid: 0, size: 0, atime: 0, mtime: 0 }));
        sftp.on('OPEN', (_id, filename) => {
          created.push(filename);
          client.end();
        });
      },
      // Second connection (the operation's one retry): refused at once, so the write fails.
      (client) => client.end(),
      // Third (close, sweeping what was left): REMOVE is carried out.
      (_client, sftp) => {
        sftp.on('REMOVE', (id, filename) => {
          removed.push(filename);
          sftp.status(id, STATUS_CODE.OK);
        });
      },
    ]);
    const client = new SftpReplicaClient(
      { host: '127.0.0.1', port, user: 'u', password: 'p', keyPath: null, keyPassphrase: null, hostKey: keys.public, knownHostsPath: null, insecureSkipHostKeyCheck: false },
      root,
      { reconnectBaseMs: 10, reconnectMaxMs: 20 },
    );
    const info = { level: 0, minTXID: 1, maxTXID: 1, size: 100, createdAt: new Date() };
    await expect(client.writeLtxFile(info, local)).rejects.toThrow(/write ltx\/0\/0+1-0+1\.ltx/);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatch(new RegExp(`^${levelDir}/0+1-0+1\\.ltx\\.[0-9a-f]{8}\\.tmp$`));
    await client.close(1_000);
    expect(removed).toEqual(created);
  });
});
