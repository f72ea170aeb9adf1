import type { Db } from './db.js';
import { coverHighWater } from './high-water.js';

/**
 * The next STAN (ISO 8583 field 11): 000001..999999, wrapping, persisted so it survives
 * restarts. Callers run this inside the same SQLite transaction that records the message
 * about to be sent, so a STAN is never reused even across a crash.
 */
export function nextStan(db: Db): string {
  const row = db
    .prepare<[], { value: number }>(
      `UPDATE counters SET value = CASE WHEN value >= 999999 THEN 1 ELSE value + 1 END WHERE name = 'stan' RETURNING value`,
    )
    .get();
  if (!row) throw new Error('counters table lacks the stan row');
  // Inside the caller's transaction: if the mark cannot be written, nothing commits and nothing is sent.
  coverHighWater(db, 'stan', row.value);
  return String(row.value).padStart(6, '0');
}

/** Moves to the next batch number (a cut-over), recorded past the high-water mark before it is used. */
export function nextBatch(db: Db): number {
  const row = db
    .prepare<[], { value: number }>(
      `UPDATE counters SET value = CASE WHEN value >= 999999 THEN 1 ELSE value + 1 END WHERE name = 'batch' RETURNING value`,
    )
    .get();
  if (!row) throw new Error('counters table lacks the batch row');
  coverHighWater(db, 'batch', row.value);
  return row.value;
}

export function currentBatch(db: Db): number {
  const row = db.prepare<[], { value: number }>(`SELECT value FROM counters WHERE name = 'batch'`).get();
  return row?.value ?? 1;
}
