import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';

/**
 * Every query a payment runs, from the card to the slip and on to the host (sale, refund,
 * void, offline approval, advice, reversal, print, decline report, alert evaluation). A
 * query that scans a table grows with history: 30 days of slips and a year of journal
 * turn a fraction of a millisecond into tens of milliseconds on every sale. Written out
 * here, as the product issues them, so a new per-sale query is one more row.
 */
const PER_SALE_QUERIES: readonly { path: string; sql: string }[] = [
  // Sale, refund and void: the journal.
  { path: 'sale: batch number', sql: `SELECT value FROM counters WHERE name = 'batch'` },
  {
    path: 'sale: STAN',
    sql: `UPDATE counters SET value = CASE WHEN value >= 999999 THEN 1 ELSE value + 1 END WHERE name = 'stan' RETURNING value`,
  },
  { path: 'sale: read the transaction', sql: `SELECT * FROM transactions WHERE id = ?` },
  { path: 'sale: transition', sql: `UPDATE transactions SET state = ?, updated_at = ? WHERE id = ? RETURNING *` },
  { path: 'sale: recovery before each payment', sql: `SELECT * FROM transactions WHERE state = ? ORDER BY id` },
  { path: 'sale: late 0210 after a timeout', sql: `SELECT * FROM transactions WHERE stan = ? ORDER BY id DESC LIMIT 1` },
  { path: 'sale: answer by STAN and day', sql: `SELECT * FROM transactions WHERE stan = ? AND stan_day = ?` },
  { path: 'sale: events of a transaction', sql: `SELECT * FROM transaction_events WHERE transaction_id = ? ORDER BY id` },
  {
    path: 'refund: already refunded',
    sql: `SELECT sum(amount) AS total FROM transactions WHERE type = 'refund' AND original_id = ? AND state IN (?, ?, ?, ?)`,
  },
  {
    path: 'void: the void of a sale',
    sql: `SELECT id, state FROM transactions WHERE type = 'void' AND original_id = ? ORDER BY id DESC LIMIT 1`,
  },
  // Offline approval and the store-and-forward advices.
  {
    path: 'offline: exposure',
    sql: `SELECT (SELECT queued FROM saf_exposure WHERE currency = ?) AS n, (SELECT total FROM saf_exposure WHERE currency = ?) AS total,
           (SELECT q.queued_at FROM saf_queue q
             WHERE q.state = 'queued' AND (SELECT t.currency FROM transactions t WHERE t.id = q.transaction_id) = ?
             ORDER BY q.queued_at LIMIT 1) AS oldest`,
  },
  {
    path: 'advice: status line',
    sql: `SELECT t.currency, count(*) AS n, sum(t.amount) AS total, min(q.queued_at) AS oldest
       FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
       WHERE q.state = 'queued' GROUP BY t.currency`,
  },
  {
    path: 'advice: due items',
    sql: `SELECT q.id, t.stan, t.amount FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
       WHERE q.state = 'queued' AND q.next_attempt_at <= ? AND q.id NOT IN (?, ?) ORDER BY q.id`,
  },
  {
    path: 'advice: expiry',
    sql: `SELECT q.id, t.stan FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
       WHERE q.state = 'queued' AND q.queued_at < ? ORDER BY q.id`,
  },
  {
    path: 'advice: next deadline',
    sql: `SELECT min(next_attempt_at) AS due, min(queued_at) AS oldest FROM saf_queue WHERE state = 'queued'`,
  },
  { path: 'advice: count the send', sql: `UPDATE saf_queue SET sends = sends + 1, updated_at = ? WHERE id = ?` },
  // Reversals.
  { path: 'reversal: of a transaction', sql: `SELECT * FROM reversals WHERE transaction_id = ?` },
  { path: 'reversal: pending', sql: `SELECT * FROM reversals WHERE state = 'pending' ORDER BY id` },
  { path: 'reversal: pending count', sql: `SELECT count(*) AS n FROM reversals WHERE state = 'pending'` },
  { path: 'reversal: oldest pending', sql: `SELECT min(created_at) AS at FROM reversals WHERE state = 'pending'` },
  {
    path: 'reversal: link back up',
    sql: `UPDATE reversals SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?`,
  },
  // Printing.
  { path: 'print: slips of a transaction', sql: `SELECT * FROM print_jobs WHERE transaction_id = ? ORDER BY id` },
  { path: 'print: next job', sql: `SELECT * FROM print_jobs WHERE state = 'queued' AND id > ? ORDER BY id LIMIT 1` },
  { path: 'print: queue depth', sql: `SELECT count(*) AS n FROM print_jobs WHERE state = 'queued'` },
  { path: 'print: mark printed', sql: `UPDATE print_jobs SET state = 'printed', printed_at = ?, updated_at = ? WHERE id = ?` },
  // Decline reports, alerts and their evaluation after every outcome.
  {
    path: 'alerts: outcomes in the window',
    sql: `SELECT count(*) AS n FROM transaction_events WHERE at > ? AND to_state IN (?, ?, ?) AND from_state = 'online_sent'`,
  },
  { path: 'alerts: oldest queued advice', sql: `SELECT min(queued_at) AS at FROM saf_queue WHERE state = 'queued'` },
  { path: 'alerts: open alert by key', sql: `SELECT id FROM alerts WHERE key = ? AND cleared_at IS NULL` },
  {
    path: 'outbox: due batch',
    sql: `SELECT id, event_id, type, payload, created_at, attempts FROM outbox
          WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?`,
  },
  { path: 'outbox: depth', sql: `SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE delivered_at IS NULL` },
  { path: 'outbox: mark delivered', sql: `UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?` },
];

/** The plan steps that read a whole table or a whole index, whatever its size. */
function fullScans(db: Db, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map(() => null);
  const plan = db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`).all(...params);
  return plan.map((step) => step.detail).filter((detail) => /^SCAN /.test(detail) && !/^SCAN CONSTANT ROW/.test(detail));
}

describe('per-sale queries', () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-plans-')), 'pos.db'));
  afterAll(() => db.close());

  it.each(PER_SALE_QUERIES)('$path reads through an index, never a full scan', ({ sql }) => {
    expect(fullScans(db, sql)).toEqual([]);
  });
});

describe('the STAN index', () => {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-stan-')), 'pos.db'));
  afterAll(() => db.close());
  const insert = db.prepare(
    `INSERT INTO transactions (uuid, type, state, amount, currency, stan, stan_day, created_at, updated_at)
     VALUES (?, 'sale', 'created', 100, 'EUR', ?, ?, 0, 0)`,
  );

  it('refuses a second payment with the same STAN on the same day, and takes it on another day', () => {
    insert.run('a', '000042', '20260101');
    expect(() => insert.run('b', '000042', '20260101')).toThrow(/UNIQUE constraint failed/);
    expect(() => insert.run('c', '000042', '20260102')).not.toThrow();
  });

  it('is one index: a sale writes one STAN entry, not two', () => {
    const stanIndexes = db
      .prepare<[], { name: string }>(
        `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'transactions' AND sql LIKE '%stan%'`,
      )
      .all();
    expect(stanIndexes.map((i) => i.name)).toEqual(['transactions_stan']);
  });
});
