import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PosError } from '../../drivers/base/errors.js';

export class DataLockError extends PosError {}

export const LOCK_FILE = 'pos-companion.lock';

export interface DataLock {
  release(): void;
}

/**
 * An exclusive SQLite lock on a small file in the data folder, held for the life of the
 * process. The kernel drops it when the process dies, even by SIGKILL, so it never goes
 * stale the way a pid file does.
 */
function tryLock(dataDir: string): Database.Database | undefined {
  const file = join(dataDir, LOCK_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
  const db = new Database(file, { timeout: 0 });
  try {
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw err;
  }
}

/** Taken by the running terminal: a second terminal or a restore on the same folder is refused while it lives. */
export function holdDataLock(dataDir: string): DataLock {
  const db = tryLock(dataDir);
  if (!db) {
    throw new DataLockError('DATA_DIR_IN_USE', `another pos-companion is running on ${dataDir}; stop it first`, { dataDir });
  }
  return { release: () => db.close() };
}

/** Runs `fn` only while no terminal runs on `dataDir`, holding the lock meanwhile so none starts. */
export function withDataLock<T>(dataDir: string, fn: () => T): T {
  const db = tryLock(dataDir);
  if (!db) {
    throw new DataLockError(
      'DATA_DIR_IN_USE',
      `a terminal is running on ${dataDir}: stop it (systemctl stop pos-companion) before restoring a backup`,
      { dataDir },
    );
  }
  try {
    return fn();
  } finally {
    db.close();
  }
}
