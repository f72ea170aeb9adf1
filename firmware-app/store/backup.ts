import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import { flagBackupCopy } from './high-water.js';

type Db = Database.Database;

export class BackupError extends PosError {}

export interface BackupTarget {
  /** Folder the copies go to; created 0700 because a copy holds the same data as the journal. */
  dir: string;
  /** Why the copy was taken (`nightly`, `pre-migration-v3`); part of the file name. */
  label: string;
  clock: Clock;
}

export interface BackupInfo {
  file: string;
  label: string;
  bytes: number;
  /** When the copy was taken, ms since the epoch (from the injected clock). */
  takenAt: number;
}

const LABEL = /^[a-z0-9][a-z0-9-]*$/;
const NAME = /^pos-companion-([a-z0-9][a-z0-9-]*)-(\d{8}T\d{9}Z)(?:-\d+)?\.db$/;

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:.]/g, '');
}

function parseStamp(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(s);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, sec, ms] = m.map(Number) as [number, number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms);
}

/**
 * Reserves a fresh file for the copy, created empty with mode 0600 before SQLite writes a
 * byte, so the copy never exists with wider permissions than the journal it came from.
 */
function reserve(target: BackupTarget): { file: string; takenAt: number } {
  if (!LABEL.test(target.label))
    throw new BackupError('BACKUP_BAD_LABEL', `backup label "${target.label}" must be lower-case letters, digits and dashes`);
  const takenAt = target.clock.now();
  const base = `pos-companion-${target.label}-${stamp(takenAt)}`;
  try {
    mkdirSync(target.dir, { recursive: true, mode: 0o700 });
    for (let n = 0; ; n++) {
      const file = join(target.dir, n === 0 ? `${base}.db` : `${base}-${n}.db`);
      if (existsSync(file)) continue;
      closeSync(openSync(file, 'wx', 0o600));
      chmodSync(file, 0o600);
      return { file, takenAt };
    }
  } catch (err) {
    throw new BackupError(
      'BACKUP_FAILED',
      `cannot create a backup file in ${target.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { dir: target.dir },
      { cause: err },
    );
  }
}

/** Opens the copy on its own and asks SQLite to check every page; throws when it is not sound. */
export function verifyBackup(file: string): void {
  let copy: Db | undefined;
  try {
    copy = new Database(file, { readonly: true, fileMustExist: true });
    const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    if (problems.length > 0 || rows.length === 0) {
      throw new BackupError(
        'BACKUP_CORRUPT',
        `backup ${file} failed the integrity check: ${problems.slice(0, 3).join('; ') || 'no answer'}`,
        { file },
      );
    }
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(
      'BACKUP_CORRUPT',
      `backup ${file} cannot be read as a database: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  } finally {
    copy?.close();
  }
}

/**
 * The backup API copies the WAL flag of the live database into the copy, and any later open
 * of a WAL file leaves -wal and -shm files beside it. Switched to a rollback journal, the
 * copy is one file that can be moved, checked and restored on its own. It is also flagged
 * as a copy, so the terminal started on it after a restore moves its counters past anything
 * the host has seen.
 */
function selfContained(file: string): void {
  const copy = new Database(file, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    flagBackupCopy(copy);
  } finally {
    copy.close();
  }
}

function finish(file: string, label: string, takenAt: number): BackupInfo {
  try {
    verifyBackup(file);
  } catch (err) {
    rmSync(file, { force: true });
    throw err;
  }
  return { file, label, takenAt, bytes: statSync(file).size };
}

/**
 * Online copy for a running terminal (the nightly job): SQLite's backup API copies a few
 * pages per turn of the event loop, so sales keep running while it copies, and restarts
 * the copy on its own if a sale writes meanwhile. The copy is verified before it counts.
 */
export async function backupDatabase(db: Db, target: BackupTarget): Promise<BackupInfo> {
  const { file, takenAt } = reserve(target);
  try {
    await db.backup(file);
    selfContained(file);
  } catch (err) {
    rmSync(file, { force: true });
    throw new BackupError('BACKUP_FAILED', `backup to ${file} failed: ${(err as Error).message}`, { file }, { cause: err });
  }
  return finish(file, target.label, takenAt);
}

/**
 * Blocking copy for start-up, before migrations run, when nothing else uses the database
 * yet and the caller cannot wait on a promise. `VACUUM INTO` writes one consistent snapshot.
 */
export function backupDatabaseSync(db: Db, target: BackupTarget): BackupInfo {
  const { file, takenAt } = reserve(target);
  try {
    db.prepare('VACUUM INTO ?').run(file);
    selfContained(file);
  } catch (err) {
    rmSync(file, { force: true });
    throw new BackupError('BACKUP_FAILED', `backup to ${file} failed: ${(err as Error).message}`, { file }, { cause: err });
  }
  return finish(file, target.label, takenAt);
}

/** Copies found in `dir`, oldest first. Files that do not follow the naming scheme are ignored. */
export function listBackups(dir: string): BackupInfo[] {
  if (!existsSync(dir)) return [];
  const found: BackupInfo[] = [];
  for (const name of readdirSync(dir)) {
    const m = NAME.exec(name);
    if (!m) continue;
    const file = join(dir, name);
    found.push({ file, label: m[1]!, takenAt: parseStamp(m[2]!), bytes: statSync(file).size });
  }
  return found.sort((a, b) => a.takenAt - b.takenAt || a.file.localeCompare(b.file));
}

/** Keeps the newest `keep` copies carrying `label` and deletes the older ones; returns what was deleted. */
export function pruneBackups(dir: string, label: string, keep: number): BackupInfo[] {
  const mine = listBackups(dir).filter((b) => b.label === label);
  const doomed = mine.slice(0, Math.max(0, mine.length - keep));
  for (const b of doomed) rmSync(b.file, { force: true });
  return doomed;
}
