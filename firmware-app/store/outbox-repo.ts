import type { Db } from './db.js';
import type { QueueRepository, QueueRow } from './durable-queue.js';
import { AddedSignal, perDatabase } from './per-db.js';

/** An upstream event waiting in the outbox (delivered rows are not queue rows any more). */
export interface OutboxRow extends QueueRow {
  eventId: string;
  type: string;
  payload: Record<string, unknown>;
  createdAt: number;
}

interface Row {
  id: number;
  event_id: string;
  type: string;
  payload: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

const IDS = `(SELECT value FROM json_each(?))`;

const fromRow = (r: Row): OutboxRow => ({
  id: r.id,
  eventId: r.event_id,
  type: r.type,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
  createdAt: r.created_at,
  // Every POST is a try and a transmission alike: the outbox keeps one count for both.
  attempts: r.attempts,
  sends: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
});

/**
 * The transactional outbox (`outbox`): an upstream event is a row written in the same
 * SQLite transaction as the fact it reports; it waits until `delivered_at` is set.
 */
export class OutboxRepo implements QueueRepository<OutboxRow> {
  private readonly added = new AddedSignal();
  private readonly s;

  constructor(db: Db) {
    this.s = {
      insert: db.prepare<[string, string, string, number, number]>(
        `INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(event_id) DO NOTHING`,
      ),
      depth: db.prepare<[], { n: number; oldest: number | null; due: number | null }>(
        `SELECT count(*) AS n, min(created_at) AS oldest, min(next_attempt_at) AS due FROM outbox WHERE delivered_at IS NULL`,
      ),
      due: db.prepare<[number, number, string, number], Row>(
        `SELECT id, event_id, type, payload, created_at, attempts, next_attempt_at, last_error FROM outbox
          WHERE delivered_at IS NULL AND (? OR next_attempt_at <= ?) AND id NOT IN ${IDS} ORDER BY id LIMIT ?`,
      ),
      addAttempts: db.prepare<[number, string]>(`UPDATE outbox SET attempts = attempts + ? WHERE id IN ${IDS}`),
      reschedule: db.prepare<[number, string | null, string]>(
        `UPDATE outbox SET next_attempt_at = ?, last_error = coalesce(?, last_error) WHERE id IN ${IDS}`,
      ),
      delivered: db.prepare<[number, string]>(`UPDATE outbox SET delivered_at = ?, last_error = NULL WHERE id IN ${IDS}`),
      purge: db.prepare<[number]>(`DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?`),
    };
  }

  /** Idempotent on `eventId`; safe inside a caller's transaction. The flusher wakes once it commits. */
  enqueue(event: { eventId: string; type: string; payload: Record<string, unknown> }, now: number): void {
    this.s.insert.run(event.eventId, event.type, JSON.stringify(event.payload), now, now);
    this.added.fire();
  }

  depth(): { pending: number; oldestCreatedAt: number | null } {
    const row = this.s.depth.get()!;
    return { pending: row.n, oldestCreatedAt: row.oldest };
  }

  due(now: number, limit: number, skip: readonly number[], force: boolean): OutboxRow[] {
    if (limit <= 0) return [];
    return this.s.due.all(force ? 1 : 0, now, JSON.stringify(skip), limit).map(fromRow);
  }

  nextAttemptAt(): number | null {
    return this.s.depth.get()!.due;
  }

  waiting(): number {
    return this.s.depth.get()!.n;
  }

  countSends(ids: readonly number[]): void {
    this.s.addAttempts.run(1, JSON.stringify(ids));
  }

  uncountSends(ids: readonly number[]): void {
    this.s.addAttempts.run(-1, JSON.stringify(ids));
  }

  /** The POST was already counted as the attempt: only the schedule and the error change. */
  reschedule(ids: readonly number[], change: { nextAttemptAt: number; error?: string }): void {
    this.s.reschedule.run(change.nextAttemptAt, change.error ?? null, JSON.stringify(ids));
  }

  /** The TMS stored the batch: one commit for all its events. */
  delivered(ids: readonly number[], at: number): void {
    this.s.delivered.run(at, JSON.stringify(ids));
  }

  onAdded(listener: () => void): () => void {
    return this.added.on(listener);
  }

  /** Retention: events delivered before `cutoff`; an undelivered event is never touched. */
  purgeFinished(cutoff: number): number {
    return this.s.purge.run(cutoff).changes;
  }
}

export const outboxRepo = perDatabase((db) => new OutboxRepo(db));
