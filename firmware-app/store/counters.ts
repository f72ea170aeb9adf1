import type { Db } from './db.js';

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
  return String(row.value).padStart(6, '0');
}

export function currentBatch(db: Db): number {
  const row = db.prepare<[], { value: number }>(`SELECT value FROM counters WHERE name = 'batch'`).get();
  return row?.value ?? 1;
}
