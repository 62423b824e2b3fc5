// ssh2, loaded on first use (the first connection's key check): about 5 MB of memory and 30 ms of
// start-up that a replicator or restore without an sftp replica should not pay.
export type Ssh2 = typeof import('ssh2');

let loading: Promise<Ssh2> | null = null;

export function loadSsh2(): Promise<Ssh2> {
  loading ??= import('ssh2').then((m) => m.default);
  return loading;
}
