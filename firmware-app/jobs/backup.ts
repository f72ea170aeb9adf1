import { chmodSync, copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import type { Clock } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import Database from 'better-sqlite3';
import { pruneBackups, verifyBackup, type BackupInfo } from '../store/backup.js';
import { flagBackupCopy } from '../store/high-water.js';
import type { Store } from '../store/store.js';

export const NIGHTLY_LABEL = 'nightly';

export class RestoreError extends PosError {}

/** The nightly copy: SQLite's online backup into a new 0600 file, verified, then the oldest beyond `keep` removed. */
export async function nightlyBackup(
  store: Store,
  clock: Clock,
  options: { dir: string; keep: number },
): Promise<{ backup: BackupInfo; removed: string[] }> {
  const backup = await store.backup({ dir: options.dir, label: NIGHTLY_LABEL, clock });
  const removed = pruneBackups(options.dir, NIGHTLY_LABEL, options.keep).map((b) => b.file);
  for (const file of [backup.file, ...removed]) removeEmptySidecars(file);
  return { backup, removed };
}

/**
 * The integrity check opens a copy read-only, and SQLite leaves a WAL-mode file's `-wal`
 * and `-shm` behind when a read-only connection closes. An empty WAL holds nothing, so
 * they go; a non-empty one is left for whoever restores to see.
 */
function removeEmptySidecars(file: string): void {
  const wal = `${file}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0) return;
  rmSync(wal, { force: true });
  rmSync(`${file}-shm`, { force: true });
}

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
