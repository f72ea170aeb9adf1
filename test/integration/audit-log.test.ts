import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../firmware-app/store/db.js';

describe('audit_log is append-only (real SQLite file)', () => {
  it('refuses DELETE like UPDATE; only rows past the 12 months kept for audits may go', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-audit-')), 'pos-companion.db'));
    const insert = db.prepare(`INSERT INTO audit_log (at, actor, action, detail, outcome) VALUES (?, 'socket#1', ?, NULL, 'ok')`);
    const day = 86_400_000;
    insert.run(Date.now(), 'diag.login');
    insert.run(Date.now() - 200 * day, 'diag.queue-drain');
    insert.run(Date.now() - 400 * day, 'diag.log-level');
    expect(() => db.prepare(`UPDATE audit_log SET outcome = 'refused'`).run()).toThrow(/audit_log is append-only/);
    expect(() => db.prepare(`DELETE FROM audit_log WHERE action = 'diag.login'`).run()).toThrow(/audit_log is append-only/);
    expect(() => db.prepare(`DELETE FROM audit_log WHERE action = 'diag.queue-drain'`).run()).toThrow(/audit_log is append-only/);
    expect(db.prepare(`DELETE FROM audit_log WHERE action = 'diag.log-level'`).run().changes).toBe(1);
    expect(db.prepare(`SELECT action FROM audit_log ORDER BY id`).pluck().all()).toEqual(['diag.login', 'diag.queue-drain']);
    db.close();
  });
});
