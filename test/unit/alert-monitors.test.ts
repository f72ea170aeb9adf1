import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { ALERT_KEY, AlertMonitors, decide, EVALUATE_AFTER_OUTCOME_MS, type MonitorSettings } from '../../firmware-app/alerts/monitors.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { ManualClock } from '../support/manual-clock.js';
import { outboxOf, storeOf } from '../support/store.js';

const MIN = 60_000;
const SETTINGS: MonitorSettings = {
  windowMs: 10 * MIN,
  minSamples: 4,
  declineRatePercent: 50,
  declineClearPercent: 30,
  timeoutRatePercent: 40,
  timeoutClearPercent: 20,
  offlineQueueAgeMs: 60 * MIN,
  evaluateEveryMs: MIN,
};

function setup() {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-alerts-')), 'pos.db'));
  const clock = new ManualClock();
  const journal = new Journal(storeOf(db), clock);
  let kicks = 0;
  const monitors = new AlertMonitors(storeOf(db), SETTINGS, {
    clock,
    report: outboxOf(db, clock),
    logger: silentLogger,
    onUpstreamEvent: () => kicks++,
  });
  monitors.attach(journal);
  let stan = 0;
  /** One sale outcome, committed; the monitors evaluate it right after (`settled`). */
  const outcome = (outcome: 'approved' | 'declined' | 'reversal_pending', code?: string) => {
    const t = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.transition(t.id, 'card_read');
    journal.transition(t.id, 'online_sent', { stan: String(++stan).padStart(6, '0'), stanDay: '1123' });
    return journal.transition(
      t.id,
      outcome,
      code ? { declineCode: code, responseCode: outcome === 'declined' ? code : null } : { responseCode: '00' },
    );
  };
  /** An outcome, then the moment after it in which the monitors evaluate it. */
  const online = (...args: Parameters<typeof outcome>) => {
    const txn = outcome(...args);
    clock.advance(EVALUATE_AFTER_OUTCOME_MS);
    return txn;
  };
  return { db, clock, journal, monitors, outcome, online, kicks: () => kicks };
}

function upstream(db: Db) {
  return db
    .prepare<[], { event_id: string; type: string; payload: string }>(
      `SELECT event_id, type, payload FROM outbox WHERE type LIKE 'alert.%' ORDER BY id`,
    )
    .all()
    .map((r) => ({ eventId: r.event_id, type: r.type, payload: JSON.parse(r.payload) as { key: string; alertId: number } }));
}

describe('hysteresis', () => {
  it('raises over the threshold, clears only below the lower mark, and clears when there is nothing to measure', () => {
    expect(decide(false, 50, 50, 30)).toBe('keep');
    expect(decide(false, 50.1, 50, 30)).toBe('raise');
    expect(decide(true, 40, 50, 30)).toBe('keep');
    expect(decide(true, 29.9, 50, 30)).toBe('clear');
    expect(decide(true, null, 50, 30)).toBe('clear');
    expect(decide(false, null, 50, 30)).toBe('keep');
  });
});

describe('alert monitors on an injected clock', () => {
  it('raise the decline-rate alert locally and upstream when declines cross the threshold, and clear it when the window slides past them', () => {
    const { db, clock, monitors, online, kicks } = setup();
    online('approved');
    online('declined', '05');
    clock.advance(MIN);
    online('approved');
    expect(storeOf(db).alerts.open()).toEqual([]);
    online('declined', '51');
    // 2 of 4 = 50 %: at the threshold, not over it
    expect(storeOf(db).alerts.open()).toEqual([]);
    online('declined', '05');
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => a.key),
    ).toEqual([ALERT_KEY.declineRate]);
    expect(storeOf(db).alerts.open()[0]!.message).toBe('decline rate 60% over the last 10 min (5 sales), threshold 50%');
    online('declined', '05');
    expect(storeOf(db).alerts.open()).toHaveLength(1);
    expect(upstream(db).map((e) => e.type)).toEqual(['alert.raised']);
    expect(kicks()).toBe(1);

    // Healthy sales after the bad minute: 4 of 13 = 31 % stays above the clear mark...
    clock.advance(MIN);
    for (let i = 0; i < 7; i++) online('approved');
    expect(storeOf(db).alerts.open()).toHaveLength(1);
    // ...and once the window no longer holds the first minute (3 of 11 = 27 %), a tick clears it without any new sale.
    clock.advance(8.5 * MIN);
    monitors.evaluate();
    expect(storeOf(db).alerts.open()).toEqual([]);
    const [raised, cleared] = upstream(db);
    expect(cleared).toMatchObject({ type: 'alert.cleared', payload: { key: ALERT_KEY.declineRate, alertId: raised!.payload.alertId } });
    expect(raised!.eventId).toBe(`alert:${raised!.payload.alertId}:raised`);
    expect(cleared!.eventId).toBe(`alert:${raised!.payload.alertId}:cleared`);
    expect(storeOf(db).alerts.recent()[0]).toMatchObject({ key: ALERT_KEY.declineRate, clearedAt: clock.now() });
    expect(kicks()).toBe(2);
  });

  it('do not raise on too few sales, however bad', () => {
    const { db, online } = setup();
    for (let i = 0; i < 3; i++) online('declined', '05');
    expect(storeOf(db).alerts.open()).toEqual([]);
  });

  it('clear by the periodic tick once the window is empty', () => {
    const { db, clock, monitors, online } = setup();
    monitors.start();
    for (let i = 0; i < 4; i++) online('declined', '91');
    expect(storeOf(db).alerts.open()).toHaveLength(1);
    clock.advance(10 * MIN + SETTINGS.evaluateEveryMs);
    expect(storeOf(db).alerts.open()).toEqual([]);
    monitors.stop();
  });

  it('raise and clear the host timeout-rate alert', () => {
    const { db, clock, online, monitors } = setup();
    online('approved');
    online('approved');
    online('reversal_pending', 'HOST_TIMEOUT');
    expect(storeOf(db).alerts.open()).toEqual([]);
    online('reversal_pending', 'HOST_TIMEOUT');
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => a.key),
    ).toContain(ALERT_KEY.timeoutRate);
    clock.advance(11 * MIN);
    monitors.evaluate();
    expect(storeOf(db).alerts.open()).toEqual([]);
  });

  it('raise the offline-queue age alert when the oldest queued payment is too old, and clear it once the queue drains', () => {
    const { db, clock, journal, monitors } = setup();
    const t = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    db.prepare(
      `INSERT INTO saf_queue (transaction_id, encrypted_blob, state, next_attempt_at, queued_at, updated_at) VALUES (?, x'00', 'queued', ?, ?, ?)`,
    ).run(t.id, clock.now(), clock.now(), clock.now());
    clock.advance(60 * MIN);
    expect(monitors.evaluate().raised).toEqual([]);
    clock.advance(1);
    expect(monitors.evaluate().raised.map((a) => a.key)).toEqual([ALERT_KEY.offlineQueueAge]);
    db.prepare(`UPDATE saf_queue SET state = 'forwarded'`).run();
    expect(monitors.evaluate().cleared.map((a) => a.key)).toEqual([ALERT_KEY.offlineQueueAge]);
  });

  it('raise an alert once its outcome has committed, exactly once, and at the next start when a crash came in between', () => {
    const { db, clock, journal, monitors, outcome } = setup();
    for (let i = 0; i < 4; i++) outcome('declined', '05');
    // Committed, and not evaluated yet: the cashier's result does not wait for the counts.
    expect(storeOf(db).alerts.open()).toEqual([]);
    // The terminal dies here; the next start reads the same journal and raises the alert.
    const restarted = new AlertMonitors(storeOf(db), SETTINGS, { clock, report: outboxOf(db, clock), logger: silentLogger });
    restarted.attach(journal);
    restarted.start();
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => a.key),
    ).toEqual([ALERT_KEY.declineRate]);
    // The evaluation the outcomes asked for still runs (this process did not die): nothing is raised twice.
    clock.advance(EVALUATE_AFTER_OUTCOME_MS);
    restarted.stop();
    monitors.stop();
    expect(storeOf(db).alerts.open()).toHaveLength(1);
    expect(upstream(db).map((e) => e.type)).toEqual(['alert.raised']);
  });

  it('never undo a payment when evaluation fails', () => {
    const { db, clock, journal } = setup();
    db.exec(`CREATE TRIGGER no_alerts BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'disk trouble'); END`);
    const t = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    for (let i = 0; i < 4; i++) {
      const x = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
      journal.transition(x.id, 'declined_local', { declineCode: 'READER_CARD_READ_FAILED' });
    }
    expect(journal.transition(t.id, 'declined_local', { declineCode: 'READER_NO_CARD' }).state).toBe('declined_local');
    clock.advance(EVALUATE_AFTER_OUTCOME_MS);
    expect(journal.get(t.id).state).toBe('declined_local');
    expect(storeOf(db).alerts.open()).toEqual([]);
  });
});
