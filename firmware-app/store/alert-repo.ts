import type { Db } from './db.js';

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

export interface AlertInput {
  key: string;
  severity: AlertSeverity;
  message: string;
  detail?: Record<string, unknown>;
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

/** The `alerts` table. An alert is a condition, not an event: raised once, cleared once. */
export class AlertRepo {
  private readonly openByKey;
  private readonly insert;
  private readonly clearByKey;
  private readonly openAll;
  private readonly newest;
  private readonly purge;

  constructor(db: Db) {
    this.openByKey = db.prepare<[string], { id: number }>(`SELECT id FROM alerts WHERE key = ? AND cleared_at IS NULL`);
    this.insert = db.prepare<unknown[], Row>(
      `INSERT INTO alerts (key, severity, message, detail, raised_at) VALUES (?, ?, ?, ?, ?) RETURNING *`,
    );
    this.clearByKey = db.prepare<[number, string], Row>(
      `UPDATE alerts SET cleared_at = ? WHERE key = ? AND cleared_at IS NULL RETURNING *`,
    );
    this.openAll = db.prepare<[], Row>(`SELECT * FROM alerts WHERE cleared_at IS NULL ORDER BY id`);
    this.newest = db.prepare<[number], Row>(`SELECT * FROM alerts ORDER BY id DESC LIMIT ?`);
    this.purge = db.prepare<[number]>(`DELETE FROM alerts WHERE cleared_at IS NOT NULL AND cleared_at < ?`);
  }

  /** The new alert, or undefined when one with this key is already open. */
  raise(input: AlertInput, at: number): Alert | undefined {
    if (this.openByKey.get(input.key)) return undefined;
    return fromRow(this.insert.get(input.key, input.severity, input.message, input.detail ? JSON.stringify(input.detail) : null, at)!);
  }

  /** The alert cleared, or undefined when none with this key was open. */
  clear(key: string, at: number): Alert | undefined {
    const row = this.clearByKey.get(at, key);
    return row ? fromRow(row) : undefined;
  }

  open(): Alert[] {
    return this.openAll.all().map(fromRow);
  }

  recent(limit = 50): Alert[] {
    return this.newest.all(limit).map(fromRow);
  }

  /** Retention: alerts cleared before `cutoff` go; open ones always stay. */
  purgeFinished(cutoff: number): number {
    return this.purge.run(cutoff).changes;
  }
}
