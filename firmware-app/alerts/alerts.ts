import type { Clock } from '../../drivers/base/clock.js';
import type { Db } from '../store/db.js';

export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface Alert {
  id: number;
  key: string;
  severity: AlertSeverity;
  message: string;
  detail: Record<string, unknown> | null;
  raisedAt: number;
  clearedAt: number | null;
}

interface Row {
  id: number;
  key: string;
  severity: AlertSeverity;
  message: string;
  detail: string | null;
  raised_at: number;
  cleared_at: number | null;
}

const fromRow = (r: Row): Alert => ({
  id: r.id,
  key: r.key,
  severity: r.severity,
  message: r.message,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
  raisedAt: r.raised_at,
  clearedAt: r.cleared_at,
});

/**
 * Raises an alert unless one with the same key is already open (an alert is a condition,
 * not an event: it is raised once and cleared once). Returns the new alert, or undefined
 * when it was already open. Safe to call inside a caller's SQLite transaction.
 */
export function raiseAlert(
  db: Db,
  clock: Clock,
  input: { key: string; severity: AlertSeverity; message: string; detail?: Record<string, unknown> },
): Alert | undefined {
  const open = db.prepare<[string], { id: number }>(`SELECT id FROM alerts WHERE key = ? AND cleared_at IS NULL`).get(input.key);
  if (open) return undefined;
  const row = db
    .prepare<unknown[], Row>(`INSERT INTO alerts (key, severity, message, detail, raised_at) VALUES (?, ?, ?, ?, ?) RETURNING *`)
    .get(input.key, input.severity, input.message, input.detail ? JSON.stringify(input.detail) : null, clock.now())!;
  return fromRow(row);
}

/** Clears the open alert with this key; returns it, or undefined if none was open. */
export function clearAlert(db: Db, clock: Clock, key: string): Alert | undefined {
  const row = db
    .prepare<[number, string], Row>(`UPDATE alerts SET cleared_at = ? WHERE key = ? AND cleared_at IS NULL RETURNING *`)
    .get(clock.now(), key);
  return row ? fromRow(row) : undefined;
}

export function openAlerts(db: Db): Alert[] {
  return db.prepare<[], Row>(`SELECT * FROM alerts WHERE cleared_at IS NULL ORDER BY id`).all().map(fromRow);
}

export function recentAlerts(db: Db, limit = 50): Alert[] {
  return db.prepare<[number], Row>(`SELECT * FROM alerts ORDER BY id DESC LIMIT ?`).all(limit).map(fromRow);
}
