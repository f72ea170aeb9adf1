import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError, type Db } from './db.js';

/**
 * Room a payment needs in the journal with margin to spare: a sale writes a few rows
 * (transaction, events, queue rows, slips), far below this. Starting a sale with less
 * could leave it dying halfway for lack of space.
 */
export const MIN_HEADROOM_BYTES = 256 * 1024;

export type StorageProblem = 'STORE_FULL' | 'STORE_READ_ONLY';

/** The journal cannot take a write: new payments are refused, queued work stays where it is. */
export class StorageUnavailableError extends StoreError {
  constructor(
    readonly problem: StorageProblem,
    detail: Record<string, unknown> = {},
    options?: { cause?: unknown },
    message = `Payment refused: the terminal storage is ${problem === 'STORE_FULL' ? 'full' : 'read-only'}, so the payment cannot be recorded. Nothing was charged; queued payments are kept. Call a technician.`,
  ) {
    super(problem, message, detail, options);
  }
}

/**
 * The journal failed after the request had left for the host: the host may hold a posting,
 * so the cashier must not hear "nothing was charged". The payment stays in flight and
 * recovery reverses it as soon as the journal is writable again.
 */
export class StorageFailedAfterSendError extends StorageUnavailableError {
  constructor(problem: StorageProblem, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(
      problem,
      { ...detail, afterSend: true },
      options,
      `Payment not recorded: the terminal storage is ${problem === 'STORE_FULL' ? 'full' : 'read-only'}. The payment reached the host and is being reversed; the customer may see a temporary hold. Do not hand over the goods. Call a technician.`,
    );
  }
}

/** SQLite result codes (better-sqlite3 reports them by name) that mean the disk, not the data, is the problem. */
function problemOf(code: unknown): StorageProblem | undefined {
  if (typeof code !== 'string') return undefined;
  if (code === 'SQLITE_FULL') return 'STORE_FULL';
  if (code.startsWith('SQLITE_READONLY')) return 'STORE_READ_ONLY';
  return undefined;
}

/** The storage failure behind an error (looking through `cause`), as a typed error, or undefined. */
export function storageFailure(err: unknown): StorageUnavailableError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StorageUnavailableError) return e;
    const problem = problemOf((e as { code?: unknown }).code);
    if (problem) return new StorageUnavailableError(problem, { sqlite: (e as { code: string }).code }, { cause: e });
  }
  return undefined;
}

/**
 * Bytes the journal can still grow by: the smaller of the free space on its file system
 * and what SQLite's own page limit (`max_page_count`) leaves, counting free pages inside the file.
 */
export function storageHeadroom(db: Db, file: string): number {
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  const pages = Number(db.pragma('page_count', { simple: true }));
  const maxPages = Number(db.pragma('max_page_count', { simple: true }));
  const freePages = Number(db.pragma('freelist_count', { simple: true }));
  const byPages = (maxPages - pages + freePages) * pageSize;
  const fs = statfsSync(dirname(file));
  return Math.min(byPages, fs.bavail * fs.bsize);
}

/** Throws STORE_FULL when a payment should not start for lack of room. */
export function assertStorageHeadroom(db: Db, file: string): void {
  const headroom = storageHeadroom(db, file);
  if (headroom < MIN_HEADROOM_BYTES)
    throw new StorageUnavailableError('STORE_FULL', { headroomBytes: headroom, neededBytes: MIN_HEADROOM_BYTES });
}

/**
 * Throws STORE_READ_ONLY when the journal cannot take a write. A payment's first commit comes
 * only once its card is read (payments/draft.ts), so the write lock is taken and given back
 * here first: no write and no fsync, and no customer asked for a card the journal could not record.
 */
export function assertStorageWritable(db: Db): void {
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
  } catch (err) {
    throw storageFailure(err) ?? err;
  }
}
