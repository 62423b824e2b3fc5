// Builds the client for a configured replica.
import type { Logger } from 'pino';
import type { ReplicaConfig } from '../config/types.js';
import type { ReplicaClient } from './client.js';
import { FileReplicaClient } from './file.js';
import { S3ReplicaClient } from './s3.js';
import { SftpReplicaClient } from './sftp.js';

export interface ReplicaClientOptions {
  /**
   * Receives connection events and warnings: an sftp replica without host key checking, or an s3 one
   * with skip-verify, warns on every connect; a file replica warns of entries that are not regular files.
   */
  logger?: Logger;
}

export function createReplicaClient(cfg: ReplicaConfig, opts: ReplicaClientOptions = {}): ReplicaClient {
  switch (cfg.type) {
    case 'file':
      return new FileReplicaClient(cfg.path, opts.logger ? { logger: opts.logger.child({ replicaName: cfg.name }) } : {});
    case 'sftp':
      if (!cfg.sftp) throw new Error(`replica ${cfg.name} (${cfg.keyPath}): sftp settings are missing`);
      return new SftpReplicaClient(cfg.sftp, cfg.path, { logger: opts.logger?.child({ replicaName: cfg.name }) });
    case 's3':
      if (!cfg.s3) throw new Error(`replica ${cfg.name} (${cfg.keyPath}): s3 settings are missing`);
      return new S3ReplicaClient(cfg.s3, cfg.path, { logger: opts.logger?.child({ replicaName: cfg.name }) });
  }
}
