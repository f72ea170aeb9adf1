import { randomUUID } from 'node:crypto';
import type { Clock } from '../../drivers/base/clock.js';
import type { Db } from '../store/db.js';

/**
 * The transactional outbox: an upstream event is a row written in the same SQLite
 * transaction as the fact it reports, delivered later by the flusher. Its `eventId` is
 * the idempotency key the TMS de-duplicates on.
 */
export interface OutboxEvent {
  type: string;
  payload: Record<string, unknown>;
  /** Supply one to make the enqueue itself idempotent (e.g. `decline:<txn uuid>`). */
  eventId?: string;
}

export function enqueueEvent(db: Db, clock: Clock, event: OutboxEvent): string {
  const eventId = event.eventId ?? randomUUID();
  const now = clock.now();
  db.prepare(
    `INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(event_id) DO NOTHING`,
  ).run(eventId, event.type, JSON.stringify(event.payload), now, now);
  return eventId;
}

export function outboxDepth(db: Db): { pending: number; oldestCreatedAt: number | null } {
  const row = db
    .prepare<[], { n: number; oldest: number | null }>(
      `SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE delivered_at IS NULL`,
    )
    .get()!;
  return { pending: row.n, oldestCreatedAt: row.oldest };
}
