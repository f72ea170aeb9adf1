import { randomUUID } from 'node:crypto';
import type { Clock } from '../../drivers/base/clock.js';
import type { Store } from '../store/store.js';

/**
 * The transactional outbox: an upstream event is a row written in the same SQLite
 * transaction as the fact it reports, delivered by the flusher, which wakes as soon as
 * that transaction has committed. Its `eventId` is the idempotency key the TMS
 * de-duplicates on.
 */
export interface OutboxEvent {
  type: string;
  payload: Record<string, unknown>;
  /** Supply one to make the enqueue itself idempotent (e.g. `decline:<txn uuid>`). */
  eventId?: string;
}

export function enqueueEvent(store: Store, clock: Clock, event: OutboxEvent): string {
  const eventId = event.eventId ?? randomUUID();
  store.outbox.enqueue({ eventId, type: event.type, payload: event.payload }, clock.now());
  return eventId;
}

export function outboxDepth(store: Store): { pending: number; oldestCreatedAt: number | null } {
  return store.outbox.depth();
}
