import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { PosError } from '../../drivers/base/errors.js';
import { migrate } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends PosError {}

export interface OpenOptions {
  /** Open without migrating or writing (tools and tests that only look). */
  readonly?: boolean;
}

/**
 * Opens the terminal's database with the durability the write-ahead rule needs:
 * WAL and synchronous=FULL (better-sqlite3 would otherwise leave WAL at NORMAL, which can
 * lose a committed row on power loss). The file is created 0600 before SQLite touches it,
 * so there is no moment it exists with wider permissions.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (!options.readonly) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'a', 0o600);
    closeSync(fd);
    chmodSync(file, 0o600);
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  try {
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StoreError('STORE_WAL_UNAVAILABLE', `database could not switch to WAL (got ${String(mode)})`);
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('journal_size_limit = 67108864');
      migrate(db);
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function durabilitySettings(db: Db): { journalMode: string; synchronous: number } {
  return {
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    synchronous: Number(db.pragma('synchronous', { simple: true })),
  };
}
