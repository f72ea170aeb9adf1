import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CurrencyCode } from '../../firmware-app/core/money.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { MIGRATIONS } from '../../firmware-app/store/migrations.js';
import { ManualClock } from '../support/manual-clock.js';
import { storeOf } from '../support/store.js';

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
});

const file = () => join(mkdtempSync(join(tmpdir(), 'pos-exposure-')), 'pos.db');

/** What the offline rules must see: the queue counted row by row. */
function counted(db: Db, currency: string) {
  const r = db
    .prepare<[string], { n: number; total: number | null; oldest: number | null }>(
      `SELECT count(*) AS n, sum(t.amount) AS total, min(q.queued_at) AS oldest
         FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id WHERE q.state = 'queued' AND t.currency = ?`,
    )
    .get(currency)!;
  return { count: r.n, totalAmount: r.total ?? 0, oldestQueuedAt: r.oldest };
}

/** An offline approval as the payments engine commits it: state and queue row together. */
function offlineApproval(db: Db, clock: ManualClock, amount: number, currency: CurrencyCode = 'CNY'): number {
  const store = storeOf(db);
  const journal = new Journal(store, clock);
  const t = journal.create({ type: 'sale', amount, currency });
  journal.transition(t.id, 'card_read', { last4: '1111', entryMode: 'CHIP', panToken: 'ab'.repeat(32) });
  store.tx(() => {
    journal.transition(t.id, 'offline_approved', { stan: store.nextStan(), stanDay: '2027-01-15' });
    store.saf.enqueue({ transactionId: t.id, encryptedBlob: Buffer.alloc(40, 7), expiry: '2812', now: clock.now() });
  });
  return t.id;
}

const queueId = (db: Db, transactionId: number) =>
  db.prepare<[number], { id: number }>(`SELECT id FROM saf_queue WHERE transaction_id = ?`).get(transactionId)!.id;

describe('the offline exposure the offline rules weigh', () => {
  it('stays exact as approvals queue, advices finish, rows are purged and the terminal restarts', () => {
    const path = file();
    const db = openDatabase(path);
    dbs.push(db);
    const clock = new ManualClock();
    const saf = storeOf(db).saf;
    expect(saf.exposure('CNY')).toEqual({ count: 0, totalAmount: 0, oldestQueuedAt: null });

    const a = offlineApproval(db, clock, 1_000);
    clock.advance(1_000);
    const b = offlineApproval(db, clock, 2_500);
    offlineApproval(db, clock, 700, 'USD');
    clock.advance(1_000);
    const c = offlineApproval(db, clock, 4_000);
    expect(saf.exposure('CNY')).toEqual({ count: 3, totalAmount: 7_500, oldestQueuedAt: clock.now() - 2_000 });
    expect(saf.exposure('USD')).toEqual({ count: 1, totalAmount: 700, oldestQueuedAt: clock.now() - 1_000 });

    saf.finish(queueId(db, a), 'forwarded', '00', clock.now());
    expect(saf.exposure('CNY')).toEqual(counted(db, 'CNY'));
    expect(saf.exposure('CNY')).toEqual({ count: 2, totalAmount: 6_500, oldestQueuedAt: clock.now() - 1_000 });
    saf.finish(queueId(db, b), 'declined', '05', clock.now());
    saf.finish(queueId(db, c), 'expired', null, clock.now());
    expect(saf.exposure('CNY')).toEqual({ count: 0, totalAmount: 0, oldestQueuedAt: null });
    offlineApproval(db, clock, 300);
    expect(saf.purgeFinished(clock.now() + 1)).toBe(3);
    expect(saf.exposure('CNY')).toEqual(counted(db, 'CNY'));
    db.close();

    const reopened = openDatabase(path);
    dbs.push(reopened);
    expect(storeOf(reopened).saf.exposure('CNY')).toEqual({ count: 1, totalAmount: 300, oldestQueuedAt: clock.now() });
    expect(storeOf(reopened).saf.exposure('USD')).toEqual(counted(reopened, 'USD'));
  });

  it('counts the items a database already held when it is upgraded', () => {
    const path = file();
    const step = MIGRATIONS.findIndex((m) => m.name.startsWith('offline exposure'));
    const before = openDatabase(path, { migrations: MIGRATIONS.slice(0, step) });
    const queued = (amount: number, state: string, at: number) => {
      const t = before
        .prepare<[string, number, number, number], { id: number }>(
          `INSERT INTO transactions (uuid, type, state, amount, currency, batch_number, created_at, updated_at)
           VALUES (?, 'sale', 'offline_approved', ?, 'CNY', 1, ?, ?) RETURNING id`,
        )
        .get(`u-${amount}`, amount, at, at)!;
      before
        .prepare(
          `INSERT INTO saf_queue (transaction_id, encrypted_blob, state, next_attempt_at, queued_at, updated_at) VALUES (?, x'00', ?, ?, ?, ?)`,
        )
        .run(t.id, state, at, at, at);
    };
    queued(1_200, 'queued', 5_000);
    queued(800, 'queued', 6_000);
    queued(9_900, 'forwarded', 4_000);
    before.close();

    const upgraded = openDatabase(path);
    dbs.push(upgraded);
    expect(storeOf(upgraded).saf.exposure('CNY')).toEqual({ count: 2, totalAmount: 2_000, oldestQueuedAt: 5_000 });
  });
});
