import type { EntryMode } from '../../drivers/card-reader/types.js';
import type { CurrencyCode } from '../core/money.js';
import type { OfflineExposure } from '../payments/offline-rules.js';
import type { Db } from './db.js';
import type { QueueRepository } from './durable-queue.js';
import { AddedSignal, perDatabase } from './per-db.js';

/** A row is `queued` until the host accepted (`forwarded`) or refused (`declined`) its advice, or it aged out (`expired`). */
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
  /** The queue's last error: for an advice, the host's last response code. */
  lastError: string | null;
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

/** Ids as one JSON parameter, so a statement with a list in it is still prepared once. */
const IDS = `(SELECT value FROM json_each(?))`;

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
    lastError: r.last_response_code,
    queuedAt: r.queued_at,
  };
}

/**
 * The store-and-forward queue (`saf_queue`): one row per offline approval, written in the
 * same SQLite transaction that moves the payment to `offline_approved`. It keeps the
 * reader's encrypted card blob (only the host can open it) until the advice is final.
 */
export class SafRepo implements QueueRepository<SafItem> {
  private readonly added = new AddedSignal();
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO saf_queue (transaction_id, encrypted_blob, icc_data, expiry, state, next_attempt_at, queued_at, updated_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`,
      ),
      // saf_exposure is kept by triggers on this table (store/migrations.ts): no count per sale. The
      // oldest is the first queued row in queue time whose payment is in the currency (index
      // saf_queue_age); written as a join, the same lookup measured several times slower.
      exposure: db.prepare<[string, string, string], { n: number | null; total: number | null; oldest: number | null }>(
        `SELECT (SELECT queued FROM saf_exposure WHERE currency = ?) AS n, (SELECT total FROM saf_exposure WHERE currency = ?) AS total,
           (SELECT q.queued_at FROM saf_queue q
             WHERE q.state = 'queued' AND (SELECT t.currency FROM transactions t WHERE t.id = q.transaction_id) = ?
             ORDER BY q.queued_at LIMIT 1) AS oldest`,
      ),
      byCurrency: db.prepare<[], { currency: CurrencyCode; n: number; total: number; oldest: number }>(
        `SELECT t.currency, count(*) AS n, sum(t.amount) AS total, min(q.queued_at) AS oldest
         FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
         WHERE q.state = 'queued' GROUP BY t.currency`,
      ),
      // No `LIMIT ?`: SQLite prepares a statement again at every new value bound to its LIMIT, which cost more than the
      // query itself on every advice of a drain. `due()` stops reading at its limit instead.
      due: db.prepare<[number, number, string], Row>(
        `${SELECT} WHERE q.state = 'queued' AND (? OR q.next_attempt_at <= ?) AND q.id NOT IN ${IDS} ORDER BY q.id`,
      ),
      queuedBefore: db.prepare<[number], Row>(`${SELECT} WHERE q.state = 'queued' AND q.queued_at < ? ORDER BY q.id`),
      next: db.prepare<[], { due: number | null; oldest: number | null; n: number }>(
        `SELECT min(next_attempt_at) AS due, min(queued_at) AS oldest, count(*) AS n FROM saf_queue WHERE state = 'queued'`,
      ),
      list: db.prepare<[number], Row>(`${SELECT} ORDER BY q.id DESC LIMIT ?`),
      listState: db.prepare<[string, number], Row>(`${SELECT} WHERE q.state = ? ORDER BY q.id DESC LIMIT ?`),
      addSends: db.prepare<[number, number, string]>(`UPDATE saf_queue SET sends = sends + ?, updated_at = ? WHERE id IN ${IDS}`),
      reschedule: db.prepare<[number, number, string | null, number, string]>(
        `UPDATE saf_queue SET attempts = attempts + ?, next_attempt_at = ?, last_response_code = coalesce(?, last_response_code),
         updated_at = ? WHERE id IN ${IDS}`,
      ),
      // Final: the encrypted card data had no use but the advice, so it goes now, not at retention.
      finish: db.prepare<[string, string | null, number, number]>(
        `UPDATE saf_queue SET state = ?, encrypted_blob = X'', last_response_code = coalesce(?, last_response_code), updated_at = ?
         WHERE id = ?`,
      ),
      purge: db.prepare<[number]>(`DELETE FROM saf_queue WHERE state <> 'queued' AND updated_at < ?`),
    };
  }

  /** Must run inside the transaction that makes the payment `offline_approved`. */
  enqueue(item: { transactionId: number; encryptedBlob: Buffer; expiry: string | null; now: number; iccData?: Buffer | undefined }): void {
    this.s.insert.run(item.transactionId, item.encryptedBlob, item.iccData ?? null, item.expiry, item.now, item.now, item.now);
    this.added.fire();
  }

  /** The offline exposure the offline rules weigh: what is approved offline and not yet forwarded. */
  exposure(currency: CurrencyCode): OfflineExposure {
    const row = this.s.exposure.get(currency, currency, currency)!;
    return { count: row.n ?? 0, totalAmount: row.total ?? 0, oldestQueuedAt: row.oldest };
  }

  state(now: number): SafQueueState {
    const totalAmountByCurrency: SafQueueState['totalAmountByCurrency'] = {};
    let depth = 0;
    let oldest: number | null = null;
    for (const r of this.s.byCurrency.all()) {
      depth += r.n;
      totalAmountByCurrency[r.currency] = r.total;
      oldest = oldest === null ? r.oldest : Math.min(oldest, r.oldest);
    }
    return { depth, oldestAgeMs: oldest === null ? null : Math.max(0, now - oldest), totalAmountByCurrency };
  }

  due(now: number, limit: number, skip: readonly number[], force: boolean): SafItem[] {
    const items: SafItem[] = [];
    if (limit <= 0) return items;
    for (const row of this.s.due.iterate(force ? 1 : 0, now, JSON.stringify(skip))) {
      items.push(fromRow(row));
      if (items.length >= limit) break;
    }
    return items;
  }

  /** Queued rows approved before `cutoff`, in queue order. */
  queuedBefore(cutoff: number): SafItem[] {
    return this.s.queuedBefore.all(cutoff).map(fromRow);
  }

  nextAttemptAt(): number | null {
    return this.s.next.get()!.due;
  }

  /** When the oldest queued advice passes `maxAgeMs`, or null when none is queued. */
  nextExpiry(maxAgeMs: number): number | null {
    const oldest = this.s.next.get()!.oldest;
    return oldest === null ? null : oldest + maxAgeMs + 1;
  }

  waiting(): number {
    return this.s.next.get()!.n;
  }

  /** Queue rows for technicians and the UI, newest first; forwarded_declined ones stay here for good. */
  list(filter: { state?: SafRowState; limit?: number } = {}): SafItemView[] {
    const limit = filter.limit ?? 100;
    const rows = filter.state ? this.s.listState.all(filter.state, limit) : this.s.list.all(limit);
    return rows.map((r) => {
      const { encryptedBlob: _blob, iccData: _icc, ...rest } = fromRow(r);
      return { ...rest, last4: r.last4, transactionState: r.txn_state };
    });
  }

  countSends(ids: readonly number[], at: number): void {
    this.s.addSends.run(1, at, JSON.stringify(ids));
  }

  uncountSends(ids: readonly number[], at: number): void {
    this.s.addSends.run(-1, at, JSON.stringify(ids));
  }

  reschedule(ids: readonly number[], change: { at: number; nextAttemptAt: number; error?: string; attempt: boolean }): void {
    this.s.reschedule.run(change.attempt ? 1 : 0, change.nextAttemptAt, change.error ?? null, change.at, JSON.stringify(ids));
  }

  /** The advice is final; run inside the transaction of the payment's own transition. */
  finish(id: number, state: Exclude<SafRowState, 'queued'>, responseCode: string | null, at: number): void {
    this.s.finish.run(state, responseCode, at, id);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  onAdded(listener: () => void): () => void {
    return this.added.on(listener);
  }

  /** Retention: rows whose advice is final, last touched before `cutoff`; a queued row is never touched. */
  purgeFinished(cutoff: number): number {
    return this.s.purge.run(cutoff).changes;
  }
}

export const safRepo = perDatabase((db) => new SafRepo(db));
