import type { Clock } from '../../drivers/base/clock.js';
import type { Alert, AlertInput } from '../store/alert-repo.js';
import type { Store } from '../store/store.js';
import { TMS_EVENT, type ReportUpstream } from '../upstream/events.js';

/** What raising or clearing an alert with its upstream report needs. */
export interface AlertReporting {
  store: Store;
  clock: Clock;
  report: ReportUpstream;
}

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
 * Raises an alert locally and reports it upstream in one store transaction. Returns the
 * new alert, or undefined when it was already open (nothing is reported twice).
 */
export function raiseAndReport({ store, clock, report }: AlertReporting, input: AlertInput): Alert | undefined {
  return store.tx(() => {
    const alert = store.alerts.raise(input, clock.now());
    if (alert) report({ eventId: `alert:${alert.id}:raised`, type: TMS_EVENT.alertRaised, payload: payloadOf(alert) });
    return alert;
  });
}

/** Clears an open alert locally and reports the clearance upstream, atomically. */
export function clearAndReport({ store, clock, report }: AlertReporting, key: string): Alert | undefined {
  return store.tx(() => {
    const alert = store.alerts.clear(key, clock.now());
    if (alert) report({ eventId: `alert:${alert.id}:cleared`, type: TMS_EVENT.alertCleared, payload: payloadOf(alert) });
    return alert;
  });
}
