import { existsSync, rmSync, statSync } from 'node:fs';
import type { Clock } from '../../drivers/base/clock.js';
import { pruneBackups, type BackupInfo } from '../store/backup.js';
import type { Store } from '../store/store.js';

export const NIGHTLY_LABEL = 'nightly';

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
