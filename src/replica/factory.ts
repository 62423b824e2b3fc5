// Builds the client for a configured replica.
import type { ReplicaConfig } from '../config/types.js';
import type { ReplicaClient } from './client.js';
import { FileReplicaClient } from './file.js';

export function createReplicaClient(cfg: ReplicaConfig): ReplicaClient {
  switch (cfg.type) {
    case 'file':
      return new FileReplicaClient(cfg.path);
    case 'sftp':
      throw new Error(`replica ${cfg.name} (${cfg.keyPath}): sftp replicas are not available in this build`);
  }
}
