// Opens a connection of walship's own to the application's database.
import Database from 'better-sqlite3';

export class NotWalModeError extends Error {
  override name = 'NotWalModeError';
}

export function openOwnConnection(dbPath: string, busyTimeoutMs: number): Database.Database {
  // fileMustExist: walship never creates the application's database.
  const db = new Database(dbPath, { fileMustExist: true, timeout: busyTimeoutMs });
  try {
    // Only this connection: the application's own autocheckpoint setting is untouched.
    db.pragma('wal_autocheckpoint = 0');
    const mode = db.pragma('journal_mode', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new NotWalModeError(
        `database ${dbPath} is in journal_mode=${String(mode)}; walship needs WAL mode (PRAGMA journal_mode=WAL)`,
      );
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
