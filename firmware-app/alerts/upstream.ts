import type { Clock } from '../../drivers/base/clock.js';
import type { Db } from '../store/db.js';
import { enqueueEvent } from '../upstream/outbox.js';
import { TMS_EVENT } from '../upstream/events.js';
import { clearAlert, raiseAlert, type Alert, type AlertSeverity } from './alerts.js';

const payloadOf = (a: Alert): Record<string, unknown> => ({
  alertId: a.id,
  key: a.key,
  severity: a.severity,
  message: a.message,
  detail: a.detail,
  raisedAt: a.raisedAt,
  clearedAt: a.clearedAt,
});

/**
 * Raises an alert locally and reports it upstream in one SQLite transaction. Returns the
 * new alert, or undefined when it was already open (nothing is reported twice).
 */
export function raiseAndReport(
  db: Db,
  clock: Clock,
  input: { key: string; severity: AlertSeverity; message: string; detail?: Record<string, unknown> },
): Alert | undefined {
  return db.transaction(() => {
    const alert = raiseAlert(db, clock, input);
    if (alert) enqueueEvent(db, clock, { eventId: `alert:${alert.id}:raised`, type: TMS_EVENT.alertRaised, payload: payloadOf(alert) });
    return alert;
  })();
}

/** Clears an open alert locally and reports the clearance upstream, atomically. */
export function clearAndReport(db: Db, clock: Clock, key: string): Alert | undefined {
  return db.transaction(() => {
    const alert = clearAlert(db, clock, key);
    if (alert) enqueueEvent(db, clock, { eventId: `alert:${alert.id}:cleared`, type: TMS_EVENT.alertCleared, payload: payloadOf(alert) });
    return alert;
  })();
}
