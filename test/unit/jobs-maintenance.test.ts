import { mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { nightlyBackup } from '../../firmware-app/jobs/backup.js';
import { restoreDatabase } from '../../firmware-app/store/restore.js';
import { heartbeatPayload, sendHeartbeat } from '../../firmware-app/jobs/heartbeat.js';
import { purgeExpired } from '../../firmware-app/jobs/retention.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { outboxOf, storeOf } from '../support/store.js';

const DAY = 86_400_000;

class TestClock implements Clock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  setTimeout(): { unref?(): unknown } {
    return {};
  }
  clearTimeout(): void {}
}

describe('maintenance jobs', () => {
  let dir: string;
  let db: Db;
  let clock: TestClock;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'maint-'));
    db = openDatabase(join(dir, 'pos-companion.db'));
    clock = new TestClock(Date.parse('2026-11-23T03:00:00Z'));
  });
  afterEach(() => {
    if (db.open) db.close();
  });

  it('keeps the newest nightly copies, each 0600, and restores one over a stopped database', async () => {
    const journal = new Journal(storeOf(db), clock);
    journal.create({ type: 'sale', amount: 1234, currency: 'CNY' });
    const backups = join(dir, 'backups');
    const made: string[] = [];
    for (let night = 0; night < 4; night++) {
      clock.t += DAY;
      made.push((await nightlyBackup(storeOf(db), clock, { dir: backups, keep: 2 })).backup.file);
    }
    expect(readdirSync(backups).sort()).toEqual(
      made
        .slice(2)
        .map((f) => f.slice(backups.length + 1))
        .sort(),
    );
    for (const f of made.slice(2)) expect(statSync(f).mode & 0o777).toBe(0o600);

    journal.create({ type: 'sale', amount: 999, currency: 'CNY' });
    db.close();
    restoreDatabase(made[3]!, join(dir, 'pos-companion.db'));
    const restored = openDatabase(join(dir, 'pos-companion.db'));
    try {
      expect(restored.prepare('SELECT amount FROM transactions ORDER BY id').all()).toEqual([{ amount: 1234 }]);
      expect(statSync(join(dir, 'pos-companion.db')).mode & 0o777).toBe(0o600);
    } finally {
      restored.close();
    }
  });

  it('refuses to restore a file that is not a sound database and leaves the journal alone', () => {
    const journal = new Journal(storeOf(db), clock);
    journal.create({ type: 'sale', amount: 1234, currency: 'CNY' });
    db.close();
    const bogus = join(dir, 'bogus.db');
    writeFileSync(bogus, 'not a database at all');
    expect(() => restoreDatabase(bogus, join(dir, 'pos-companion.db'))).toThrow(expect.objectContaining({ code: 'BACKUP_CORRUPT' }));
    expect(() => restoreDatabase(join(dir, 'missing.db'), join(dir, 'pos-companion.db'))).toThrow(
      expect.objectContaining({ code: 'RESTORE_NO_BACKUP' }),
    );
    const again = openDatabase(join(dir, 'pos-companion.db'));
    try {
      expect(again.prepare('SELECT count(*) AS n FROM transactions').get()).toEqual({ n: 1 });
    } finally {
      again.close();
    }
  });

  it('purges finished operational rows and old rotated logs, keeps the journal and what is still queued', () => {
    const journal = new Journal(storeOf(db), clock);
    const old = clock.t - 40 * DAY;
    const txn = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    db.prepare(`UPDATE transactions SET pan_token = 'abcd', created_at = ? WHERE id = ?`).run(clock.t - 200 * DAY, txn.id);
    db.prepare(`INSERT INTO batches (number, state, opened_at, closed_at) VALUES (1, 'closed', ?, ?)`).run(old, old);
    const outbox = db.prepare(
      `INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at, delivered_at) VALUES (?, 'x', '{}', ?, ?, ?)`,
    );
    outbox.run('delivered-old', old, old, old);
    outbox.run('pending-old', old, old, null);
    outbox.run('delivered-new', clock.t, clock.t, clock.t);
    const runs = db.prepare(`INSERT INTO job_runs (job, started_at, finished_at, outcome) VALUES (?, ?, ?, 'ok')`);
    runs.run('backup', old, old);
    runs.run('backup', old + 1, old + 1);
    runs.run('retention', old, old);
    const log = join(dir, 'pos-companion.log');
    writeFileSync(log, 'live');
    writeFileSync(`${log}.1`, 'recent');
    writeFileSync(`${log}.2`, 'old');
    utimesSync(`${log}.2`, new Date(old), new Date(old));

    const purged = purgeExpired(storeOf(db), clock, { journalDays: 180, operationalDays: 30, logFile: log });
    expect(purged).toMatchObject({ outbox: 1, jobRuns: 1, panTokens: 1, logFiles: 1 });
    expect(db.prepare(`SELECT event_id FROM outbox ORDER BY id`).all()).toEqual([
      { event_id: 'pending-old' },
      { event_id: 'delivered-new' },
    ]);
    // Each job's latest run survives: the catch-up at start-up reads it.
    expect(db.prepare(`SELECT job, started_at FROM job_runs ORDER BY id`).all()).toEqual([
      { job: 'backup', started_at: old + 1 },
      { job: 'retention', started_at: old },
    ]);
    expect(db.prepare(`SELECT amount, pan_token FROM transactions`).all()).toEqual([{ amount: 100, pan_token: null }]);
    expect(
      readdirSync(dir)
        .filter((f) => f.startsWith('pos-companion.log'))
        .sort(),
    ).toEqual(['pos-companion.log', 'pos-companion.log.1']);
  });

  it('queues a heartbeat with devices, versions, queue depths and disk space', () => {
    db.prepare(`INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at) VALUES ('e1', 'decline', '{}', ?, ?)`).run(
      clock.t - 60_000,
      clock.t,
    );
    const sources = {
      devices: () => ({ host: 'online', reader: 'connected', printer: 'ready' }),
      versions: { app: '0.1.0', schema: '9', node: 'v20' },
      saf: () => ({ depth: 2, oldestAgeMs: 30_000, totalAmountByCurrency: { CNY: 1500 } }),
      reversals: () => ({ pending: 1, oldestAgeMs: 5_000 }),
      dataDir: dir,
    };
    const payload = heartbeatPayload(storeOf(db), clock, sources);
    expect(payload).toMatchObject({
      devices: { host: 'online', reader: 'connected', printer: 'ready' },
      saf: { depth: 2, oldestAgeMs: 30_000 },
      reversals: { pending: 1, oldestAgeMs: 5_000 },
      outbox: { pending: 1, oldestAgeMs: 60_000 },
    });
    expect(payload.disk.freeBytes).toBeGreaterThan(0);
    sendHeartbeat(storeOf(db), outboxOf(db, clock), clock, sources);
    const row = db.prepare(`SELECT payload FROM outbox WHERE type = 'heartbeat'`).get() as { payload: string };
    expect(JSON.parse(row.payload)).toMatchObject({ versions: { app: '0.1.0' }, saf: { depth: 2 } });
  });
});
