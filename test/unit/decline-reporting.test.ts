import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachDeclineReporter, declineEventId } from '../../firmware-app/declines/reporter.js';
import { declineStatistics } from '../../firmware-app/declines/statistics.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { enqueueEvent, outboxDepth } from '../../firmware-app/upstream/outbox.js';
import { ManualClock } from '../support/manual-clock.js';
import { outboxOf, storeOf } from '../support/store.js';

const HOUR = 3_600_000;

function setup() {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-decl-')), 'pos.db'));
  const clock = new ManualClock(1_800_000_000_000 - (1_800_000_000_000 % HOUR));
  const journal = new Journal(storeOf(db), clock);
  attachDeclineReporter(journal, outboxOf(db, clock));
  return { db, clock, journal };
}

function outbox(db: Db) {
  return db
    .prepare<[], { event_id: string; type: string; payload: string; created_at: number }>(
      `SELECT event_id, type, payload, created_at FROM outbox ORDER BY id`,
    )
    .all()
    .map((r) => ({
      eventId: r.event_id,
      type: r.type,
      createdAt: r.created_at,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
    }));
}

function hostDecline(journal: Journal, code: string, stan: string) {
  const t = journal.create({ type: 'sale', amount: 1500, currency: 'CNY' });
  journal.transition(t.id, 'card_read', { last4: '1111', maskedPan: '411111******1111', panToken: 'ab'.repeat(16), entryMode: 'CHIP' });
  journal.transition(t.id, 'online_sent', { stan, stanDay: '1123' });
  return journal.transition(t.id, 'declined', { responseCode: code, declineCode: code });
}

describe('decline reporting', () => {
  it('writes one decline event per declined transaction, with code and category and no card data', () => {
    const { db, journal, clock } = setup();
    const txn = hostDecline(journal, '51', '000001');
    const events = outbox(db);
    expect(events).toEqual([
      {
        eventId: `decline:${txn.uuid}`,
        type: 'decline',
        createdAt: clock.now(),
        payload: expect.objectContaining({
          transactionId: txn.uuid,
          code: '51',
          category: 'issuer',
          retry: 'later',
          known: true,
          state: 'declined',
          amount: 1500,
          currency: 'CNY',
          stan: '000001',
        }),
      },
    ]);
    const raw = JSON.stringify(events);
    expect(raw).not.toContain('1111');
    expect(raw).not.toContain('ab'.repeat(16));
  });

  it('reports local declines and host timeouts too, but nothing for approvals', () => {
    const { db, journal } = setup();
    const a = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.transition(a.id, 'declined_local', { declineCode: 'READER_CANCELLED' });
    const b = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.transition(b.id, 'card_read');
    journal.transition(b.id, 'online_sent', { stan: '000002', stanDay: '1123' });
    journal.transition(b.id, 'reversal_pending', { declineCode: 'HOST_TIMEOUT' });
    const c = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.transition(c.id, 'card_read');
    journal.transition(c.id, 'online_sent', { stan: '000003', stanDay: '1123' });
    journal.transition(c.id, 'approved', { responseCode: '00' });
    expect(outbox(db).map((e) => [e.payload.code, e.payload.category])).toEqual([
      ['READER_CANCELLED', 'terminal'],
      ['HOST_TIMEOUT', 'network'],
    ]);
  });

  it('enqueues in the same SQLite transaction as the decline: a rolled-back decline leaves no event', () => {
    const { db, journal } = setup();
    const t = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    expect(() =>
      db.transaction(() => {
        journal.transition(t.id, 'declined_local', { declineCode: 'AMOUNT_OVER_LIMIT' });
        throw new Error('power cut');
      })(),
    ).toThrow('power cut');
    expect(journal.get(t.id).state).toBe('created');
    expect(outboxDepth(storeOf(db)).pending).toBe(0);
  });

  it('makes a second enqueue of the same decline (e.g. by the SAF forwarder) harmless', () => {
    const { db, journal, clock } = setup();
    const txn = hostDecline(journal, '05', '000004');
    enqueueEvent(storeOf(db), clock, { eventId: declineEventId(txn), type: 'decline', payload: { code: '05' } });
    expect(outboxDepth(storeOf(db)).pending).toBe(1);
  });

  it('counts declines by code, category and hour, and counts unknown codes separately', () => {
    const { db, journal, clock } = setup();
    const start = clock.now();
    hostDecline(journal, '51', '000010');
    hostDecline(journal, '51', '000011');
    clock.advance(HOUR + 60_000);
    hostDecline(journal, '43', '000012');
    hostDecline(journal, 'Q7', '000013');
    const t = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.transition(t.id, 'card_read');
    journal.transition(t.id, 'online_sent', { stan: '000014', stanDay: '1123' });
    journal.transition(t.id, 'approved', { responseCode: '00' });

    const stats = declineStatistics(storeOf(db).transactions);
    expect(stats.total).toBe(4);
    expect(stats.byCode).toEqual([
      { code: '51', category: 'issuer', known: true, count: 2 },
      { code: '43', category: 'card', known: true, count: 1 },
      { code: 'Q7', category: 'issuer', known: false, count: 1 },
    ]);
    expect(stats.byCategory).toEqual({ card: 1, issuer: 3, terminal: 0, network: 0, host: 0, config: 0 });
    expect(stats.byHour).toEqual([
      { hourStart: start, count: 2 },
      { hourStart: start + HOUR, count: 2 },
    ]);
    expect(stats.unknown).toEqual([{ code: 'Q7', count: 1 }]);
    expect(outbox(db).find((e) => e.payload.code === 'Q7')?.payload.known).toBe(false);
    expect(declineStatistics(storeOf(db).transactions, { from: start + HOUR }).total).toBe(2);
  });
});
