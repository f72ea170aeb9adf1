import type { Db } from './db.js';

export interface AuditRecord {
  at: number;
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
  outcome: string;
}

/** The `audit_log` table: technician actions, append-only and never purged. */
export class AuditRepo {
  private readonly insert;

  constructor(db: Db) {
    this.insert = db.prepare(`INSERT INTO audit_log (at, actor, action, detail, outcome) VALUES (?, ?, ?, ?, ?)`);
  }

  append(entry: AuditRecord): void {
    this.insert.run(entry.at, entry.actor, entry.action, entry.detail ? JSON.stringify(entry.detail) : null, entry.outcome);
  }
}
