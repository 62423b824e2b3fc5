// Litestream (the pinned binary scripts/setup-debian.sh builds into .tools/bin) as a sidecar: its
// config for one database and one SFTP (or directory) replica, and `litestream replicate`.
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../test/kit/wait.mjs';
import { Sidecar } from './sidecar.mjs';

export function litestreamBin(root) {
  const bin = process.env.WALSHIP_LITESTREAM_BIN ?? path.join(root, '.tools', 'bin', 'litestream');
  if (!existsSync(bin)) throw new Error(`Litestream not found at ${bin}: run scripts/setup-debian.sh (it builds it), or set WALSHIP_LITESTREAM_BIN`);
  return bin;
}

/**
 * Writes a Litestream v0.5 config. `monitorInterval` (database) and `syncInterval` (replica) are
 * left out when null, so Litestream's defaults (1 s each) apply.
 */
export async function writeLitestreamConfig(file, { dbPath, replica, monitorInterval = null, syncInterval = null }) {
  const lines = ['dbs:', `  - path: ${dbPath}`];
  if (monitorInterval) lines.push(`    monitor-interval: ${monitorInterval}`);
  lines.push('    replica:');
  if (replica.type === 'sftp') {
    const s = replica.sshd;
    lines.push('      type: sftp', `      host: ${s.host}:${s.port}`, `      user: ${s.user}`, `      key-path: ${s.clientKey.privateKeyPath}`);
    lines.push(`      host-key: "${s.hostKeyLine}"`, `      path: ${replica.path}`);
  } else {
    lines.push(`      url: file://${replica.path}`);
  }
  if (syncInterval) lines.push(`      sync-interval: ${syncInterval}`);
  await fsp.writeFile(file, `${lines.join('\n')}\n`);
}

export class Litestream extends Sidecar {
  constructor(bin, configPath, { cgroups = [] } = {}) {
    super('litestream', bin, ['replicate', '-config', configPath], { cgroups });
  }

  /** Spawns it and waits (bounded) for it to be running: its log says it initialized the database. */
  async start() {
    this.spawn();
    await waitFor(() => !this.running || this.lines.some((l) => /initialized db|replicating to/.test(l.line)), 15_000, 50);
    if (!this.running) throw new Error(`litestream did not start: exit ${this.exitCode}\n${this.tail(40)}`);
  }
}
