import { nextStan } from './counters.js';
import type { Db } from './db.js';
import type { QueueRepository, QueueRow } from './durable-queue.js';
import { AddedSignal, perDatabase } from './per-db.js';

export interface ReversalRow extends QueueRow {
  transactionId: number;
  stan: string;
  stanDay: string;
  reason: string;
  state: 'pending' | 'acknowledged';
  /** The table's name for `sends`: 0400 and 0401 messages that left. */
  transmissions: number;
  alerted: boolean;
  createdAt: number;
  acknowledgedAt: number | null;
}

interface Row {
  id: number;
  transaction_id: number;
  stan: string;
  stan_day: string;
  reason: string;
  state: 'pending' | 'acknowledged';
  attempts: number;
  transmissions: number;
  next_attempt_at: number;
  last_error: string | null;
  alerted: number;
  created_at: number;
  acknowledged_at: number | null;
}

const IDS = `(SELECT value FROM json_each(?))`;

const fromRow = (r: Row): ReversalRow => ({
  id: r.id,
  transactionId: r.transaction_id,
  stan: r.stan,
  stanDay: r.stan_day,
  reason: r.reason,
  state: r.state,
  attempts: r.attempts,
  transmissions: r.transmissions,
  sends: r.transmissions,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  alerted: r.alerted === 1,
  createdAt: r.created_at,
  acknowledgedAt: r.acknowledged_at,
});

/** The reversals (`reversals`): one row per payment to reverse, pending until the host's 0410 with 00. */
export class ReversalRepo implements QueueRepository<ReversalRow> {
  private readonly added = new AddedSignal();
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      insert: db.prepare<[number, string, string, string, number, number, number]>(
        `INSERT INTO reversals (transaction_id, stan, stan_day, reason, state, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (transaction_id) DO NOTHING`,
      ),
      pending: db.prepare<[], Row>(`SELECT * FROM reversals WHERE state = 'pending' ORDER BY id`),
      summary: db.prepare<[], { n: number; oldest: number | null; due: number | null }>(
        `SELECT count(*) AS n, min(created_at) AS oldest, min(next_attempt_at) AS due FROM reversals WHERE state = 'pending'`,
      ),
      byTransaction: db.prepare<[number], Row>(`SELECT * FROM reversals WHERE transaction_id = ?`),
      due: db.prepare<[number, number, string, number], Row>(
        `SELECT * FROM reversals WHERE state = 'pending' AND (? OR next_attempt_at <= ?) AND id NOT IN ${IDS} ORDER BY id LIMIT ?`,
      ),
      makeDue: db.prepare<[number, number]>(`UPDATE reversals SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?`),
      addTransmissions: db.prepare<[number, number, string]>(
        `UPDATE reversals SET transmissions = transmissions + ?, updated_at = ? WHERE id IN ${IDS}`,
      ),
      reschedule: db.prepare<[number, number, string | null, number, string]>(
        `UPDATE reversals SET attempts = attempts + ?, next_attempt_at = ?, last_error = coalesce(?, last_error), updated_at = ?
         WHERE id IN ${IDS}`,
      ),
      alerted: db.prepare<[number, number]>(`UPDATE reversals SET alerted = 1, updated_at = ? WHERE id = ?`),
      acknowledge: db.prepare<[number, number, number, number]>(
        `UPDATE reversals SET state = 'acknowledged', acknowledged_at = ?, attempts = attempts + ?, last_error = NULL, updated_at = ?
         WHERE id = ?`,
      ),
      orphans: db.prepare<[], { id: number }>(
        `SELECT t.id FROM transactions t LEFT JOIN reversals r ON r.transaction_id = t.id
          WHERE t.state = 'reversal_pending' AND r.id IS NULL`,
      ),
      purge: db.prepare<[number]>(`DELETE FROM reversals WHERE state = 'acknowledged' AND updated_at < ?`),
    };
  }

  /** Runs inside the journal's transaction that makes the payment `reversal_pending`; a second call is a no-op. */
  enqueue(entry: { transactionId: number; stanDay: string; reason: string; now: number }): void {
    const { transactionId, stanDay, reason, now } = entry;
    this.s.insert.run(transactionId, nextStan(this.db), stanDay, reason, now, now, now);
    this.added.fire();
  }

  pending(): ReversalRow[] {
    return this.s.pending.all().map(fromRow);
  }

  waiting(): number {
    return this.s.summary.get()!.n;
  }

  oldestCreatedAt(): number | null {
    return this.s.summary.get()!.oldest;
  }

  nextAttemptAt(): number | null {
    return this.s.summary.get()!.due;
  }

  forTransaction(transactionId: number): ReversalRow | undefined {
    const row = this.s.byTransaction.get(transactionId);
    return row ? fromRow(row) : undefined;
  }

  due(now: number, limit: number, skip: readonly number[], force: boolean): ReversalRow[] {
    if (limit <= 0) return [];
    return this.s.due.all(force ? 1 : 0, now, JSON.stringify(skip), limit).map(fromRow);
  }

  /** Every pending reversal due at `now` (the link is back, or a technician forces a drain). */
  makeDue(now: number): void {
    this.s.makeDue.run(now, now);
  }

  countSends(ids: readonly number[], at: number): void {
    this.s.addTransmissions.run(1, at, JSON.stringify(ids));
  }

  uncountSends(ids: readonly number[], at: number): void {
    this.s.addTransmissions.run(-1, at, JSON.stringify(ids));
  }

  reschedule(ids: readonly number[], change: { at: number; nextAttemptAt: number; error?: string; attempt: boolean }): void {
    this.s.reschedule.run(change.attempt ? 1 : 0, change.nextAttemptAt, change.error ?? null, change.at, JSON.stringify(ids));
  }

  markAlerted(id: number, at: number): void {
    this.s.alerted.run(at, id);
  }

  /** The 0410 came (`answered`: counts as the last attempt), or the payment needs no reversal any more. */
  acknowledge(id: number, at: number, answered: boolean): void {
    this.s.acknowledge.run(at, answered ? 1 : 0, at, id);
  }

  /** Payments left in reversal_pending without a reversal row (written before the row existed). */
  orphanTransactionIds(): number[] {
    return this.s.orphans.all().map((r) => r.id);
  }

  onAdded(listener: () => void): () => void {
    return this.added.on(listener);
  }

  /** Retention: acknowledged reversals last touched before `cutoff`; a pending one is never touched. */
  purgeFinished(cutoff: number): number {
    return this.s.purge.run(cutoff).changes;
  }
}

export const reversalRepo = perDatabase((db) => new ReversalRepo(db));
