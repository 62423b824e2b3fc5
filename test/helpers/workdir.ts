// Temporary directories and configs for integration tests.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Workdir {
  dir: string;
  db: string;
  replica: string;
  config: string;
  cleanup: () => void;
}

export function makeWorkdir(extraYaml = '', replicaYaml = ''): Workdir {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-it-'));
  const db = path.join(dir, 'app.db');
  const replica = path.join(dir, 'replica');
  const config = path.join(dir, 'walship.yml');
  writeFileSync(
    config,
    `${extraYaml}
dbs:
  - path: ${db}
    replicas:
      - url: file://${replica}
        sync-interval: 0s
${replicaYaml}`,
  );
  return { dir, db, replica, config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
