import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { backupDatabaseSync } from './backup.js';
import { migrate, type Migration } from './migrations.js';

export type Db = Database.Database;

export class StoreError extends PosError {}

export interface OpenOptions {
  /** Open without migrating or writing (tools and tests that only look). */
  readonly?: boolean;
  logger?: Logger;
  clock?: Clock;
  /** Where the pre-migration copy goes; defaults to `backups/` beside the database. */
  backupDir?: string;
  /** The schema steps this build knows (tests play older and newer builds with it). */
  migrations?: readonly Migration[];
}

/** The folder backups go to unless configured otherwise: beside the database, on the same disk. */
export function defaultBackupDir(databaseFile: string): string {
  return join(dirname(databaseFile), 'backups');
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
      const log = options.logger ?? silentLogger;
      let upgradedFrom: number | undefined;
      const version = migrate(db, {
        migrations: options.migrations,
        beforeMigrating: (from, to) => {
          const copy = backupDatabaseSync(db, {
            dir: options.backupDir ?? defaultBackupDir(file),
            label: `pre-migration-v${from}`,
            clock: options.clock ?? systemClock,
          });
          log.info({ from, to, backup: copy.file, bytes: copy.bytes }, 'database backed up before schema upgrade');
          upgradedFrom = from;
        },
      });
      if (upgradedFrom !== undefined) log.info({ from: upgradedFrom, to: version }, 'database schema upgraded');
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

/**
 * Copies what the WAL holds into the database file, without waiting for anyone. SQLite's
 * own checkpoint runs inside whichever commit pushes the WAL past 1000 pages, so a commit
 * that must finish before a 0200 or a receipt leaves would carry it; the terminal runs
 * this between payments instead, and the automatic one is left only as a backstop.
 */
export function checkpointWal(db: Db): void {
  db.pragma('wal_checkpoint(PASSIVE)');
}
