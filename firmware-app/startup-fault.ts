import { accessSync, closeSync, constants, mkdirSync, openSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { isPosError, PosError } from '../drivers/base/errors.js';
import { MIN_HEADROOM_BYTES } from './store/storage.js';

/**
 * The exit status of a start-up that found its storage unusable (data folder is a file,
 * unreadable, disk full, database damaged). Restarting cannot fix any of these, so the
 * shipped unit lists it in `RestartPreventExitStatus=` next to 2 (invalid configuration).
 */
export const EXIT_STORAGE_FAULT = 4;

export class StartupStorageError extends PosError {}

const errnoOf = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

/**
 * Checks the data folder before anything starts (the simulator included), so a fault ends
 * the process with one clear line instead of half a start-up: it is a folder (created 0700
 * when missing), this user can write in it, and the disk has room for a payment.
 */
export function preflightDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if (errnoOf(err) === 'EEXIST' || errnoOf(err) === 'ENOTDIR') {
      throw new StartupStorageError('STORE_DATA_DIR_NOT_A_FOLDER', `data folder ${dataDir} exists but is not a folder`, { dataDir });
    }
    throw unusable(dataDir, err);
  }
  if (!statSync(dataDir).isDirectory())
    throw new StartupStorageError('STORE_DATA_DIR_NOT_A_FOLDER', `data folder ${dataDir} exists but is not a folder`, { dataDir });
  try {
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
    // access() says yes to root on any mode; a real file proves the folder takes writes.
    const probe = join(dataDir, `.write-probe-${process.pid}`);
    closeSync(openSync(probe, 'w', 0o600));
    unlinkSync(probe);
  } catch (err) {
    throw unusable(dataDir, err);
  }
  const fs = statfsSync(dataDir);
  const free = fs.bavail * fs.bsize;
  if (free < MIN_HEADROOM_BYTES) {
    throw new StartupStorageError('STORE_FULL', `the disk holding ${dataDir} is full (${free} bytes free); free space, then start again`, {
      dataDir,
      freeBytes: free,
    });
  }
}

function unusable(dataDir: string, err: unknown): StartupStorageError {
  const code = errnoOf(err) === 'ENOSPC' ? 'STORE_FULL' : 'STORE_DATA_DIR_UNUSABLE';
  return new StartupStorageError(
    code,
    `data folder ${dataDir} cannot be used: ${errnoOf(err) ?? (err as Error).message}`,
    { dataDir },
    { cause: err },
  );
}

const STORE_CODES = new Set([
  'STORE_FULL',
  'STORE_READ_ONLY',
  'STORE_HIGH_WATER_UNREADABLE',
  'STORE_HIGH_WATER_CORRUPT',
  'STORE_HIGH_WATER_WRITE',
]);
const SQLITE_STORAGE = /^SQLITE_(CANTOPEN|NOTADB|CORRUPT|IOERR|FULL|READONLY|PERM|AUTH)/;
const ERRNO_STORAGE = new Set(['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EIO']);

/**
 * An error met while opening the journal at start-up, as a storage fault naming the file,
 * or undefined when it is something else (a bug: exit 1, and systemd tries again).
 */
export function startupStorageFault(err: unknown, databaseFile: string): PosError | undefined {
  if (err instanceof StartupStorageError) return err;
  if (isPosError(err) && STORE_CODES.has(err.code)) return err;
  const code = errnoOf(err);
  if (typeof code !== 'string' || !(SQLITE_STORAGE.test(code) || ERRNO_STORAGE.has(code))) return undefined;
  const kind = code === 'SQLITE_FULL' || code === 'ENOSPC' ? 'STORE_FULL' : 'STORE_UNREADABLE';
  return new StartupStorageError(
    kind,
    `database ${databaseFile} cannot be opened: ${(err as Error).message} (${code})`,
    { databaseFile, cause: code },
    { cause: err },
  );
}

/** The exit status for an error that ended the process: storage faults stop systemd's retries, anything else does not. */
export function exitStatusFor(err: unknown): number {
  return err instanceof StartupStorageError || (isPosError(err) && STORE_CODES.has(err.code)) ? EXIT_STORAGE_FAULT : 1;
}
