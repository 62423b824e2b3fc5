// Small file-system helpers shared by staging, local replicas and restore.
import { promises as fsp } from 'node:fs';

/** Makes a rename or create in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
