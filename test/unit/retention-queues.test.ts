import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { purgeExpired } from '../../firmware-app/jobs/retention.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { enqueueSaf } from '../../firmware-app/saf/queue.js';
import { nextStan } from '../../firmware-app/store/counters.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { outboxRepo } from '../../firmware-app/store/outbox-repo.js';
import { printJobRepo } from '../../firmware-app/store/print-job-repo.js';
import { reversalRepo } from '../../firmware-app/store/reversal-repo.js';
import { safRepo } from '../../firmware-app/store/saf-repo.js';
import { enqueueEvent } from '../../firmware-app/upstream/outbox.js';
import { ManualClock } from '../support/manual-clock.js';
import { storeOf } from '../support/store.js';

const YEAR_MS = 365 * 86_400_000;

/**
 * Retention removes only work that is done. Each queue gets a row that is still waiting,
 * written long ago; a retention run years later must leave it where it is.
 */
describe('retention never purges queued or pending work', () => {
  let db: Db;
  let clock: ManualClock;
  let journal: Journal;

  beforeEach(() => {
    db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-retention-')), 'pos-companion.db'));
    clock = new ManualClock();
    journal = new Journal(storeOf(db), clock);
  });

  afterEach(() => db.close());

  const purgeYearsLater = () => {
    clock.advance(3 * YEAR_MS);
    return purgeExpired(storeOf(db), clock, { journalDays: 1, operationalDays: 1 });
  };

  function sale(to: 'offline_approved' | 'reversal_pending'): number {
    const txn = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.transition(txn.id, 'card_read', { last4: '1111' });
    if (to === 'offline_approved') return journal.transition(txn.id, 'offline_approved', { stan: nextStan(db), stanDay: '2026-01-01' }).id;
    journal.transition(txn.id, 'online_sent', { stan: nextStan(db), stanDay: '2026-01-01' });
    return journal.transition(txn.id, 'reversal_pending').id;
  }

  it('keeps a queued store-and-forward item (and its encrypted blob)', () => {
    const id = sale('offline_approved');
    enqueueSaf(storeOf(db), { transactionId: id, encryptedBlob: Buffer.alloc(48, 1), expiry: '2812', now: clock.now() });
    purgeYearsLater();
    expect(db.prepare(`SELECT state, length(encrypted_blob) AS blob FROM saf_queue`).all()).toEqual([{ state: 'queued', blob: 48 }]);
  });

  it('keeps a pending reversal', () => {
    const id = sale('reversal_pending');
    db.prepare(
      `INSERT INTO reversals (transaction_id, stan, stan_day, reason, state, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, '2026-01-01', 'HOST_TIMEOUT', 'pending', 40, ?, ?, ?)`,
    ).run(id, nextStan(db), clock.now(), clock.now(), clock.now());
    purgeYearsLater();
    expect(db.prepare(`SELECT state, attempts FROM reversals`).all()).toEqual([{ state: 'pending', attempts: 40 }]);
  });

  it('keeps a queued print job', () => {
    db.prepare(
      `INSERT INTO print_jobs (kind, payload, state, attempts, created_at, updated_at) VALUES ('receipt', x'00', 'queued', 7, ?, ?)`,
    ).run(clock.now(), clock.now());
    purgeYearsLater();
    expect(db.prepare(`SELECT state, attempts FROM print_jobs`).all()).toEqual([{ state: 'queued', attempts: 7 }]);
  });

  it('keeps an outbox event never delivered', () => {
    enqueueEvent(storeOf(db), clock, { eventId: 'decline:waiting', type: 'decline', payload: {} });
    purgeYearsLater();
    expect(db.prepare(`SELECT event_id, delivered_at FROM outbox`).all()).toEqual([{ event_id: 'decline:waiting', delivered_at: null }]);
  });

  it('removes the finished rows of every queue, each by its own repository', () => {
    const now = clock.now();
    const offline = sale('offline_approved');
    safRepo(db).enqueue({ transactionId: offline, encryptedBlob: Buffer.alloc(48, 1), expiry: '2812', now });
    safRepo(db).finish(1, 'forwarded', '00', now);
    const reversed = sale('reversal_pending');
    reversalRepo(db).enqueue({ transactionId: reversed, stanDay: '2026-01-01', reason: 'HOST_TIMEOUT', now });
    reversalRepo(db).acknowledge(reversalRepo(db).forTransaction(reversed)!.id, now, true);
    printJobRepo(db).markPrinted(printJobRepo(db).enqueue({ kind: 'receipt', payload: Buffer.from('x') }, now).id);
    printJobRepo(db).commitMarks(now);
    outboxRepo(db).enqueue({ eventId: 'decline:sent', type: 'decline', payload: {} }, now);
    outboxRepo(db).delivered([1], now);
    expect(purgeYearsLater()).toMatchObject({ safQueue: 1, reversals: 1, printJobs: 1, outbox: 1 });
    for (const table of ['saf_queue', 'reversals', 'print_jobs', 'outbox']) {
      expect(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()).toEqual({ n: 0 });
    }
  });
});
