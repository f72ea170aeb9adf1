import type { Clock } from '../../drivers/base/clock.js';
import { alertRepo, type Alert, type AlertInput } from '../store/alert-repo.js';
import type { Db } from '../store/db.js';

export type { Alert, AlertInput, AlertSeverity } from '../store/alert-repo.js';

/**
 * For the queue modules that are still handed the database (store-and-forward, reversals):
 * raises an alert unless one with the same key is open. Everything else uses `store.alerts`.
 */
export function raiseAlert(db: Db, clock: Clock, input: AlertInput): Alert | undefined {
  return alertRepo(db).raise(input, clock.now());
}

/** The queue modules' clear: see `raiseAlert`. */
export function clearAlert(db: Db, clock: Clock, key: string): Alert | undefined {
  return alertRepo(db).clear(key, clock.now());
}
