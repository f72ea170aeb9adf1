import type { Clock } from '../../drivers/base/clock.js';
import type { Db } from '../../firmware-app/store/db.js';
import type { OfflineQueuePort } from '../../firmware-app/payments/outcome.js';
import { enqueueSaf, safExposure } from '../../firmware-app/saf/queue.js';
import { Store } from '../../firmware-app/store/store.js';
import type { ReportUpstream } from '../../firmware-app/upstream/events.js';
import { enqueueEvent } from '../../firmware-app/upstream/outbox.js';

const stores = new WeakMap<Db, Store>();

/** The one store over a test's handle, so every part of a test shares its prepared statements. */
export function storeOf(db: Db): Store {
  let store = stores.get(db);
  if (!store) stores.set(db, (store = new Store(db)));
  return store;
}

/** Upstream reports written straight into the test database's outbox. */
export function outboxOf(db: Db, clock: Clock): ReportUpstream {
  return (event) => void enqueueEvent(storeOf(db), clock, event);
}

/** The engine's store-and-forward port over the test database's queue. */
export function offlineQueueOf(db: Db): OfflineQueuePort {
  return { exposure: (currency) => safExposure(storeOf(db), currency), enqueue: (item) => enqueueSaf(storeOf(db), item) };
}
