import type { EntryMode } from '../../drivers/card-reader/types.js';
import type { CurrencyCode } from '../core/money.js';
import type { OfflineExposure } from '../payments/offline-rules.js';
import type { Db } from '../store/db.js';

/**
 * The store-and-forward queue: one `saf_queue` row per offline approval, written in the
 * same SQLite transaction that moves the payment to `offline_approved`. It keeps the
 * reader's encrypted card blob (only the host can open it) until the advice is accepted.
 */
export type SafRowState = 'queued' | 'forwarded' | 'declined' | 'expired';

/** A queue row with what the forwarder needs to build the advice. */
export interface SafItem {
  id: number;
  transactionId: number;
  uuid: string;
  state: SafRowState;
  stan: string;
  amount: number;
  currency: CurrencyCode;
  entryMode: EntryMode;
  expiry: string | null;
  encryptedBlob: Buffer;
  /** Field 55 of the advice: the card's TC of a chip sale approved offline. */
  iccData: Buffer | null;
  batchNumber: number;
  authCode: string | null;
  /** Timeouts so far; retry codes (91, 96) and refused connections do not count. */
  attempts: number;
  /** Transmissions so far; the first is a 0220, every later one a 0221. */
  sends: number;
  nextAttemptAt: number;
  lastResponseCode: string | null;
  queuedAt: number;
}

/** What a technician or the UI sees of a queue row: no card data blob. */
export type SafItemView = Omit<SafItem, 'encryptedBlob' | 'iccData'> & { last4: string | null; transactionState: string };

/** Queue figures for the cashier status line and the upstream heartbeat. */
export interface SafQueueState {
  depth: number;
  oldestAgeMs: number | null;
  totalAmountByCurrency: Partial<Record<CurrencyCode, number>>;
}

interface Row {
  id: number;
  transaction_id: number;
  uuid: string;
  state: SafRowState;
  stan: string;
  amount: number;
  currency: CurrencyCode;
  entry_mode: EntryMode;
  expiry: string | null;
  encrypted_blob: Buffer;
  icc_data: Buffer | null;
  batch_number: number;
  auth_code: string | null;
  attempts: number;
  sends: number;
  next_attempt_at: number;
  last_response_code: string | null;
  queued_at: number;
  last4: string | null;
  txn_state: string;
}

const SELECT = `SELECT q.id, q.transaction_id, t.uuid, q.state, t.stan, t.amount, t.currency, t.entry_mode, q.expiry,
  q.encrypted_blob, q.icc_data, t.batch_number, t.auth_code, q.attempts, q.sends, q.next_attempt_at, q.last_response_code,
  q.queued_at, t.last4, t.state AS txn_state
  FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id`;

function fromRow(r: Row): SafItem {
  return {
    id: r.id,
    transactionId: r.transaction_id,
    uuid: r.uuid,
    state: r.state,
    stan: r.stan,
    amount: r.amount,
    currency: r.currency,
    entryMode: r.entry_mode,
    expiry: r.expiry,
    encryptedBlob: r.encrypted_blob,
    iccData: r.icc_data,
    batchNumber: r.batch_number,
    authCode: r.auth_code,
    attempts: r.attempts,
    sends: r.sends,
    nextAttemptAt: r.next_attempt_at,
    lastResponseCode: r.last_response_code,
    queuedAt: r.queued_at,
  };
}

/** Must run inside the transaction that makes the payment `offline_approved`. */
export function enqueueSaf(
  db: Db,
  item: { transactionId: number; encryptedBlob: Buffer; expiry: string | null; now: number; iccData?: Buffer | undefined },
): void {
  db.prepare(
    `INSERT INTO saf_queue (transaction_id, encrypted_blob, icc_data, expiry, state, next_attempt_at, queued_at, updated_at)
     VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`,
  ).run(item.transactionId, item.encryptedBlob, item.iccData ?? null, item.expiry, item.now, item.now, item.now);
}

/** The offline exposure the offline rules weigh: what is approved offline and not yet forwarded. */
export function safExposure(db: Db, currency: CurrencyCode): OfflineExposure {
  const row = db
    .prepare<[string], { n: number; total: number | null; oldest: number | null }>(
      `SELECT count(*) AS n, sum(t.amount) AS total, min(q.queued_at) AS oldest
       FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
       WHERE q.state = 'queued' AND t.currency = ?`,
    )
    .get(currency)!;
  return { count: row.n, totalAmount: row.total ?? 0, oldestQueuedAt: row.oldest };
}

export function safQueueState(db: Db, now: number): SafQueueState {
  const rows = db
    .prepare<[], { currency: CurrencyCode; n: number; total: number; oldest: number }>(
      `SELECT t.currency, count(*) AS n, sum(t.amount) AS total, min(q.queued_at) AS oldest
       FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
       WHERE q.state = 'queued' GROUP BY t.currency`,
    )
    .all();
  const totalAmountByCurrency: SafQueueState['totalAmountByCurrency'] = {};
  let depth = 0;
  let oldest: number | null = null;
  for (const r of rows) {
    depth += r.n;
    totalAmountByCurrency[r.currency] = r.total;
    oldest = oldest === null ? r.oldest : Math.min(oldest, r.oldest);
  }
  return { depth, oldestAgeMs: oldest === null ? null : Math.max(0, now - oldest), totalAmountByCurrency };
}

/** Queued rows due at `now`, in queue order, skipping those already in flight. */
export function dueSafItems(db: Db, now: number, limit: number, skip: readonly number[]): SafItem[] {
  if (limit <= 0) return [];
  const placeholders = skip.map(() => '?').join(', ');
  const notIn = skip.length > 0 ? `AND q.id NOT IN (${placeholders})` : '';
  return db
    .prepare<unknown[], Row>(`${SELECT} WHERE q.state = 'queued' AND q.next_attempt_at <= ? ${notIn} ORDER BY q.id LIMIT ?`)
    .all(now, ...skip, limit)
    .map(fromRow);
}

/** Queued rows approved before `cutoff`, in queue order. */
export function safItemsQueuedBefore(db: Db, cutoff: number): SafItem[] {
  return db.prepare<[number], Row>(`${SELECT} WHERE q.state = 'queued' AND q.queued_at < ? ORDER BY q.id`).all(cutoff).map(fromRow);
}

/** Earliest moment something in the queue needs the forwarder: a retry coming due, or an expiry. */
export function nextSafDeadline(db: Db, maxAgeMs: number): { due: number | null; expiry: number | null } {
  const row = db
    .prepare<[], { due: number | null; oldest: number | null }>(
      `SELECT min(next_attempt_at) AS due, min(queued_at) AS oldest FROM saf_queue WHERE state = 'queued'`,
    )
    .get()!;
  return { due: row.due, expiry: row.oldest === null ? null : row.oldest + maxAgeMs + 1 };
}

/** Queue rows for technicians and the UI, newest first; forwarded_declined ones stay here for good. */
export function listSafItems(db: Db, filter: { state?: SafRowState; limit?: number } = {}): SafItemView[] {
  const where = filter.state ? 'WHERE q.state = ?' : '';
  const args: unknown[] = filter.state ? [filter.state] : [];
  return db
    .prepare<unknown[], Row>(`${SELECT} ${where} ORDER BY q.id DESC LIMIT ?`)
    .all(...args, filter.limit ?? 100)
    .map((r) => {
      const { encryptedBlob: _blob, iccData: _icc, ...rest } = fromRow(r);
      return { ...rest, last4: r.last4, transactionState: r.txn_state };
    });
}
