// Builds the client for a configured replica.
import type { Logger } from 'pino';
import type { ReplicaConfig } from '../config/types.js';
import type { ReplicaClient } from './client.js';
import { FileReplicaClient } from './file.js';

export interface ReplicaClientOptions {
  logger?: Logger;
}

export function createReplicaClient(cfg: ReplicaConfig, _opts: ReplicaClientOptions = {}): ReplicaClient {
  switch (cfg.type) {
    case 'file':
      return new FileReplicaClient(cfg.path);
    case 'sftp':
      throw new Error(`replica ${cfg.name} (${cfg.keyPath}): sftp replicas are not available in this build`);
  }
}
