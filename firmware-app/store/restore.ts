import { chmodSync, copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PosError } from '../../drivers/base/errors.js';
import { verifyBackup } from './backup.js';
import { flagBackupCopy } from './high-water.js';

export class RestoreError extends PosError {}

/**
 * Puts a backup in place of the terminal's database. Run with the terminal stopped: the
 * copy is checked before anything is touched, the stale WAL and shared-memory files of the
 * old database are removed (SQLite would otherwise replay them over the restored pages),
 * and the restored file keeps mode 0600. The restored file is flagged as a copy whatever made
 * it (a hand-made `cp` too), so the next start moves the counters past anything the host saw.
 */
export function restoreDatabase(backupFile: string, dbFile: string): void {
  if (!existsSync(backupFile)) throw new RestoreError('RESTORE_NO_BACKUP', `backup ${backupFile} does not exist`, { backupFile });
  verifyBackup(backupFile);
  for (const suffix of ['-wal', '-shm']) rmSync(`${dbFile}${suffix}`, { force: true });
  copyFileSync(backupFile, dbFile);
  chmodSync(dbFile, 0o600);
  // A copy whose WAL still holds pages is only whole together with it.
  const wal = `${backupFile}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) {
    copyFileSync(wal, `${dbFile}-wal`);
    chmodSync(`${dbFile}-wal`, 0o600);
  }
  const restored = new Database(dbFile, { fileMustExist: true });
  try {
    flagBackupCopy(restored);
  } finally {
    restored.close();
  }
}
