// ReplicaTree for each backend: subdirectory names under a replica root, read-only. File replicas
// read the directory; sftp replicas list over their own short-lived session (sftp-session.ts,
// used as it is); s3 replicas list common prefixes with a "/" delimiter.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ReplicaConfig } from '../config/types.js';
import { createS3Client } from './s3-connect.js';
import { loadS3Sdk } from './s3-sdk.js';
import { SFTP_STATUS, sftpStatus } from './sftp-io.js';
import { SftpSession } from './sftp-session.js';
import type { ReplicaTree } from './tree.js';

/** `logger` gets the connection warnings (no host key check, an unverified TLS endpoint). */
export function openReplicaTree(r: ReplicaConfig, logger?: Logger): ReplicaTree {
  switch (r.type) {
    case 'file':
      return fileTree(r.path);
    case 'sftp':
      return sftpTree(r, logger);
    case 's3':
      return s3Tree(r, logger);
  }
}

function fileTree(root: string): ReplicaTree {
  return {
    scheme: 'dir',
    location: `file://${root}`,
    async subdirs(rel) {
      const dir = rel === '' ? root : path.join(root, ...rel.split('/'));
      try {
        const items = await fsp.readdir(dir, { withFileTypes: true });
        return items.filter((i) => i.isDirectory()).map((i) => i.name);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return [];
        throw new Error(`replica file://${dir}: cannot list: ${code ?? (err as Error).message}`);
      }
    },
    async close() {},
  };
}

function sftpTree(r: ReplicaConfig, logger: Logger | undefined): ReplicaTree {
  const s = r.sftp!;
  const root = normalizeRoot(r.path);
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  const location = `sftp://${encodeURIComponent(s.user)}@${host}:${s.port}${root.startsWith('/') ? '' : '/'}${root}`;
  const session = new SftpSession(s, location, { afterConnect: async () => {}, wantsCleanupAtClose: () => false, cleanupAtClose: async () => {} }, { logger: logger?.child({ replica: location }) });
  return {
    scheme: 'dir',
    location,
    subdirs(rel) {
      const dir = rel === '' ? root : path.posix.join(root, rel);
      return session.run(`list ${rel || '.'}`, async (c) => {
        try {
          return (await c.sftp.readdir(dir)).filter((e) => e.attrs.isDirectory()).map((e) => e.filename);
        } catch (err) {
          if (sftpStatus(err) === SFTP_STATUS.NO_SUCH_FILE) return [];
          throw err;
        }
      });
    },
    close: () => session.close(),
  };
}

function s3Tree(r: ReplicaConfig, logger: Logger | undefined): ReplicaTree {
  const s = r.s3!;
  const root = r.path.replace(/^\/+/, '').replace(/\/+$/, '');
  let client: ReturnType<typeof createS3Client> | null = null;
  return {
    scheme: 's3',
    location: `s3://${s.bucket}/${root}`,
    async subdirs(rel) {
      try {
        return await listPrefixes(rel);
      } catch (err) {
        throw new Error(`replica s3://${s.bucket}/${root}: cannot list ${rel || 'the root'}: ${(err as Error).message}`);
      }
    },
    async close() {
      if (client) (await client.catch(() => null))?.destroy();
    },
  };

  async function listPrefixes(rel: string): Promise<string[]> {
    client ??= createS3Client(s, { onUnverifiedConnect: (host) => logger?.warn({ event: 's3_tls_unverified', host }, `skip-verify is set: connecting to ${host} for s3://${s.bucket}/${root} without checking its TLS certificate`) });
    const s3 = await client;
    const { ListObjectsV2Command } = await loadS3Sdk();
    const base = [root, rel].filter((p) => p !== '').join('/');
    const prefix = base === '' ? '' : `${base}/`;
    const names: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix) names.push(p.Prefix.slice(prefix.length).replace(/\/$/, ''));
      if (!out.IsTruncated || !out.NextContinuationToken) break;
      token = out.NextContinuationToken;
    }
    return names.filter((n) => n !== '');
  }
}

function normalizeRoot(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}
