/** The event types of docs/protocols/tms-events.md. */
export const TMS_EVENT = {
  decline: 'decline',
  cancel: 'cancel',
  alertRaised: 'alert.raised',
  alertCleared: 'alert.cleared',
  heartbeat: 'heartbeat',
  settlementResult: 'settlement.result',
} as const;

/** One event as the TMS receives it (the envelope of docs/protocols/tms-events.md section 2). */
export interface TmsEvent {
  eventId: string;
  type: string;
  terminalId: string;
  /** Epoch milliseconds at which the fact happened (the outbox row's creation). */
  occurredAt: number;
  payload: Record<string, unknown>;
}

/** One POST body. */
export interface TmsBatch {
  terminalId: string;
  sentAt: number;
  events: TmsEvent[];
}

/**
 * Writes one event into the outbox, inside the caller's store transaction: how the modules
 * that report upstream (alerts, declines, settlement, heartbeat) reach the outbox without
 * the database handle.
 */
export type ReportUpstream = (event: { type: string; payload: Record<string, unknown>; eventId?: string }) => void;
