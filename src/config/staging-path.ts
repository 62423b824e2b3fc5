// Where a database's local staging lives: `.<name>-walship/` beside the database file.
import path from 'node:path';

/** Bytes the staging directory's name adds to the database's file name. */
export const STAGING_NAME_EXTRA_BYTES = '.-walship'.length;

export function stagingDirOf(dbPath: string): string {
  return path.join(path.dirname(dbPath), `.${path.basename(dbPath)}-walship`);
}
