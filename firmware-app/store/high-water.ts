import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PosError } from '../../drivers/base/errors.js';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import type { Db } from './db.js';

/**
 * STANs and batch numbers must never be reused with the host: a reused STAN is a repeat to
 * the host ("already posted"), so the new payment is never collected. The database alone
 * cannot promise that, because a restored backup carries the counters of its day. So the
 * highest number that may have been used is also kept in a small file beside the database,
 * outside every backup, written durably before any number past it is handed out.
 */

/** STANs reserved per write of the mark: one fsync per this many payments, not one per payment. */
export const STAN_BLOCK = 100;
/** STANs skipped after a restore, on top of the mark: room for numbers a lost or damaged mark might not show. */
export const STAN_RESTORE_GAP = 1000;
/** Counters wrap from 999999 to 1 (fields 11 and 60 are six digits). */
const MODULUS = 999_999;

/** The setting every backup copy carries, so the start after a restore knows it is one. */
export const RESTORED_COPY_KEY = 'counters.restored-copy';

export class HighWaterError extends PosError {}

type CounterName = 'stan' | 'batch';
type Mark = Record<CounterName, number>;

export function highWaterFile(databaseFile: string): string {
  return join(dirname(databaseFile), 'counters-high-water.json');
}

const wrap = (n: number) => ((((n - 1) % MODULUS) + MODULUS) % MODULUS) + 1;

/** Whether `value` is at or behind `mark` on the wrapping counter (within half the range). */
function atOrBehind(value: number, mark: number): boolean {
  return (mark - value + MODULUS) % MODULUS < MODULUS / 2;
}

function readMark(file: string): Mark | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HighWaterError('STORE_HIGH_WATER_UNREADABLE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`, { file });
  }
  const parsed = JSON.parse(text) as Partial<Mark>;
  if (!Number.isInteger(parsed.stan) || !Number.isInteger(parsed.batch))
    throw new HighWaterError('STORE_HIGH_WATER_CORRUPT', `${file} does not hold a stan and a batch number`, { file });
  return { stan: parsed.stan!, batch: parsed.batch! };
}

/** Write, fsync, rename, fsync the folder: after a crash the file holds the old mark or the new one, never neither. */
function writeMark(file: string, mark: Mark): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(mark)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (err) {
    throw new HighWaterError(
      'STORE_HIGH_WATER_WRITE',
      `cannot record the counters' high-water mark in ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { file },
      { cause: err },
    );
  }
}

class HighWater {
  constructor(
    readonly file: string,
    private mark: Mark,
  ) {}

  /** Called with a number about to be used: past the mark, the mark moves first (a block ahead for STANs). */
  cover(name: CounterName, value: number): void {
    if (atOrBehind(value, this.mark[name])) return;
    const next = { ...this.mark, [name]: name === 'stan' ? wrap(value + STAN_BLOCK - 1) : value };
    writeMark(this.file, next);
    this.mark = next;
  }
}

const attached = new WeakMap<Db, HighWater>();

/** The hook `store/counters.ts` calls with each number it hands out (no-op on a database with no mark attached). */
export function coverHighWater(db: Db, name: CounterName, value: number): void {
  attached.get(db)?.cover(name, value);
}

export interface AttachResult {
  /** The database was a restored backup: counters moved past the mark plus the gap, open batches sent to settlement. */
  restored: boolean;
  stan: number;
  batch: number;
}

const getCounter = (db: Db, name: CounterName) =>
  db.prepare<[string], { value: number }>(`SELECT value FROM counters WHERE name = ?`).get(name)?.value ?? 0;
const setCounter = (db: Db, name: CounterName, value: number) =>
  db.prepare(`UPDATE counters SET value = ? WHERE name = ?`).run(value, name);

/**
 * At start-up, before any number is handed out: puts the counters at or past the mark, and
 * after a restored backup (the copy's flag) past it by a safety gap, with a batch number
 * the host has never seen; batches the copy left open go to settlement as they are.
 */
export function attachHighWater(db: Db, file: string, logger: Logger = silentLogger): AttachResult {
  return db
    .transaction((): AttachResult => {
      const mark = readMark(file);
      const restored =
        db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`).get(RESTORED_COPY_KEY) !== undefined;
      const stored = { stan: getCounter(db, 'stan'), batch: getCounter(db, 'batch') };
      let stan = stored.stan;
      let batch = stored.batch || 1;
      if (mark && atOrBehind(stan, mark.stan)) stan = mark.stan;
      if (mark && atOrBehind(batch, mark.batch)) batch = mark.batch;
      if (restored) {
        const fromBatch = batch;
        stan = wrap(stan + STAN_RESTORE_GAP);
        batch = wrap(batch + 1);
        db.prepare(`UPDATE batches SET state = 'settling' WHERE state = 'open' AND number != ?`).run(batch);
        db.prepare(`DELETE FROM settings WHERE key = ?`).run(RESTORED_COPY_KEY);
        logger.warn({ stan, batch, fromBatch }, 'restored database: counters moved past their high-water mark');
      }
      // An ordinary start finds the counters and the mark as the last run left them: nothing
      // to write, so the start costs no fsync here (4 on eMMC otherwise: mark, folder, commit).
      if (stan !== stored.stan) setCounter(db, 'stan', stan);
      if (batch !== stored.batch) setCounter(db, 'batch', batch);
      // Durable before the commit that makes these numbers current.
      if (mark?.stan !== stan || mark.batch !== batch) writeMark(file, { stan, batch });
      attached.set(db, new HighWater(file, { stan, batch }));
      return { restored, stan, batch };
    })
    .immediate();
}

/** Flags a fresh backup copy (its own connection) so the start after restoring it moves the counters on. */
export function flagBackupCopy(copy: Db): void {
  const hasSettings = copy.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'`).get() !== undefined;
  if (!hasSettings) return;
  copy
    .prepare(`INSERT INTO settings (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
    .run(RESTORED_COPY_KEY);
}
