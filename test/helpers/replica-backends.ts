// The backends the replica contract suite (test/integration/replica-contract.test.ts) runs over.
// A new backend proves itself by adding one entry to REPLICA_BACKENDS: a name, and a setup that
// starts whatever serves it (a real server on loopback, never a mock) and returns a BackendHandle.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ReplicaClient } from '../../src/replica/client.js';
import { FileReplicaClient } from '../../src/replica/file.js';
import { levelDir, type LayoutScheme } from '../../src/replica/layout.js';
import { S3ReplicaClient } from '../../src/replica/s3.js';
import { SftpReplicaClient } from '../../src/replica/sftp.js';
import { S3Server } from './s3.js';
import { tempDir } from './sftp-fixtures.js';
import { Sshd } from './sshd.js';

export interface ContractClientOptions {
  logger?: Logger;
  /** The age past which a temporary file counts as a leftover (the backend's default otherwise). */
  tempFileMaxAgeMs?: number;
  /** Uploads as slow as the backend can be made to go, so a test can catch one midway. */
  slowUploads?: boolean;
}

export interface BackendHandle {
  /** A fresh replica location no other test uses; nothing exists there yet. */
  newRoot(): string;
  /** A client on `root`; the suite closes it. */
  client(root: string, opts?: ContractClientOptions): ReplicaClient;
  /** How the backend spells levels and file names (as errors name them). */
  readonly layout: LayoutScheme;
  /**
   * Whether uploads go through temporary files beside the final ones (directory layouts do;
   * object storage, whose PUT is atomic, does not).
   */
  readonly temporaryFiles: boolean;
  /**
   * Leaves a file under `name` in a level's directory as an interrupted upload (or a stray) would,
   * with its access and modification times `ageMs` in the past; only when temporaryFiles is true.
   */
  plant(root: string, level: number, name: string, size: number, ageMs: number): Promise<void>;
  /** Every name in a level as the storage holds it, read past the client; sorted. */
  rawNames(root: string, level: number): Promise<string[]>;
  teardown(): Promise<void>;
}

export interface ReplicaBackend {
  name: string;
  setup(): Promise<BackendHandle>;
}

/** A directory on this machine: the file backend's storage, and sshd's (it runs here too). */
function localDirectory(): Pick<BackendHandle, 'plant' | 'rawNames'> {
  return {
    async plant(root, level, name, size, ageMs) {
      const dir = levelDir(root, level);
      await fsp.mkdir(dir, { recursive: true });
      const file = path.join(dir, name);
      await fsp.writeFile(file, Buffer.alloc(size, 0x5a));
      const t = new Date(Date.now() - ageMs);
      await fsp.utimes(file, t, t);
    },
    async rawNames(root, level) {
      try {
        return (await fsp.readdir(levelDir(root, level))).sort();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    },
  };
}

function rootsUnder(base: string): () => string {
  let n = 0;
  return () => path.join(base, `replica-${++n}`, 'nested');
}

export const fileBackend: ReplicaBackend = {
  name: 'file',
  async setup() {
    const base = await tempDir('contract-file');
    return {
      layout: 'dir',
      temporaryFiles: true,
      newRoot: rootsUnder(base),
      client: (root, opts = {}) =>
        new FileReplicaClient(root, {
          ...(opts.logger ? { logger: opts.logger } : {}),
          ...(opts.tempFileMaxAgeMs !== undefined ? { tempFileMaxAgeMs: opts.tempFileMaxAgeMs } : {}),
        }),
      ...localDirectory(),
      teardown: () => fsp.rm(base, { recursive: true, force: true }),
    };
  },
};

export const sftpBackend: ReplicaBackend = {
  name: 'sftp (OpenSSH sshd)',
  async setup() {
    const sshd = await Sshd.start();
    const base = await tempDir('contract-sftp');
    return {
      layout: 'dir',
      temporaryFiles: true,
      newRoot: rootsUnder(base),
      client: (root, opts = {}) =>
        new SftpReplicaClient(sshd.settings(), root, {
          reconnectBaseMs: 50,
          reconnectMaxMs: 500,
          ...(opts.logger ? { logger: opts.logger } : {}),
          ...(opts.tempFileMaxAgeMs !== undefined ? { tempFileMaxAgeMs: opts.tempFileMaxAgeMs } : {}),
          ...(opts.slowUploads ? { transferConcurrency: 1, chunkSize: 8 * 1024 } : {}),
        }),
      ...localDirectory(),
      async teardown() {
        await sshd.cleanup();
        await fsp.rm(base, { recursive: true, force: true });
      },
    };
  },
};

export const s3Backend: ReplicaBackend = {
  name: 's3 (versitygw)',
  async setup() {
    const server = await S3Server.start();
    let n = 0;
    return {
      layout: 's3',
      temporaryFiles: false,
      newRoot: () => `contract-${process.pid}-${++n}/nested`,
      client: (root, opts = {}) => new S3ReplicaClient(server.settings(), root, opts.logger ? { logger: opts.logger } : {}),
      async plant() {
        throw new Error('object storage has no temporary files to plant');
      },
      async rawNames(root, level) {
        const prefix = `${levelDir(root, level, 's3')}/`;
        return (await server.keys(prefix)).map((k) => k.slice(prefix.length)).sort();
      },
      teardown: () => server.cleanup(),
    };
  },
};

/** Every backend the contract runs over. Add the next one here. */
export const REPLICA_BACKENDS: ReplicaBackend[] = [fileBackend, sftpBackend, s3Backend];
