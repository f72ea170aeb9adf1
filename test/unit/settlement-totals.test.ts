import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import type { CurrencyCode } from '../../firmware-app/core/money.js';
import { formatSettlementTotals } from '../../firmware-app/host/messages.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import type { TxnState } from '../../firmware-app/payments/lifecycle.js';
import { batchTotals, hostTotals } from '../../firmware-app/settlement/totals.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { storeOf } from '../support/store.js';

const clock: Clock = { now: () => 1_795_000_000_000, setTimeout: () => ({}), clearTimeout: () => undefined };

/** Journal paths to each state, the way the payment flows take them. */
const PATH: Partial<Record<TxnState, TxnState[]>> = {
  approved: ['card_read', 'online_sent', 'approved'],
  declined: ['card_read', 'online_sent', 'declined'],
  reversal_pending: ['card_read', 'online_sent', 'reversal_pending'],
  reversed: ['card_read', 'online_sent', 'reversal_pending', 'reversed'],
  offline_approved: ['card_read', 'offline_approved'],
  forwarded_approved: ['card_read', 'offline_approved', 'forwarded_approved'],
  forwarded_declined: ['card_read', 'offline_approved', 'forwarded_declined'],
  voided: ['card_read', 'online_sent', 'approved', 'void_pending', 'voided'],
  online_sent: ['card_read', 'online_sent'],
  declined_local: ['declined_local'],
};

function addPayment(journal: Journal, type: 'sale' | 'refund', amount: number, state: TxnState, currency: CurrencyCode = 'CNY'): void {
  const txn = journal.create({ type, amount, currency });
  for (const s of PATH[state]!) journal.transition(txn.id, s);
}

describe('batch totals from the journal', () => {
  let db: Db;
  let journal: Journal;
  beforeEach(() => {
    db = openDatabase(join(mkdtempSync(join(tmpdir(), 'totals-')), 'pos.db'));
    journal = new Journal(storeOf(db), clock);
  });
  afterEach(() => db.close());

  it('counts what the host posted: online and forwarded offline sales, refunds; voids apart; nothing declined or reversed', () => {
    addPayment(journal, 'sale', 1234, 'approved');
    addPayment(journal, 'sale', 500, 'approved');
    addPayment(journal, 'sale', 800, 'forwarded_approved');
    addPayment(journal, 'refund', 300, 'approved');
    addPayment(journal, 'sale', 999, 'voided');
    addPayment(journal, 'sale', 111, 'declined');
    addPayment(journal, 'sale', 222, 'reversed');
    addPayment(journal, 'sale', 333, 'forwarded_declined');
    addPayment(journal, 'sale', 444, 'declined_local');

    const totals = batchTotals(storeOf(db).transactions, 1);
    expect(totals.byCurrency.CNY).toEqual({
      sales: { count: 3, amount: 2534 },
      offlineSales: { count: 1, amount: 800 },
      refunds: { count: 1, amount: 300 },
      voids: { count: 1, amount: 999 },
    });
    expect(totals.unsettled).toEqual({ inFlight: 0, reversalsPending: 0, offlinePending: 0, voidsPending: 0 });
    expect(formatSettlementTotals(hostTotals(totals, 'CNY'))).toBe('000003000000002534000001000000000300');
  });

  it('reports what could still change the host figures', () => {
    addPayment(journal, 'sale', 100, 'reversal_pending');
    addPayment(journal, 'sale', 200, 'offline_approved');
    addPayment(journal, 'sale', 300, 'online_sent');
    // Never reached the host: nothing there to differ.
    journal.create({ type: 'sale', amount: 400, currency: 'CNY' });
    expect(batchTotals(storeOf(db).transactions, 1).unsettled).toEqual({
      inFlight: 1,
      reversalsPending: 1,
      offlinePending: 1,
      voidsPending: 0,
    });
  });

  it('only counts the batch asked for', () => {
    addPayment(journal, 'sale', 100, 'approved');
    db.prepare(`UPDATE counters SET value = 2 WHERE name = 'batch'`).run();
    addPayment(journal, 'sale', 700, 'approved');
    expect(batchTotals(storeOf(db).transactions, 1).byCurrency.CNY?.sales).toEqual({ count: 1, amount: 100 });
    expect(batchTotals(storeOf(db).transactions, 2).byCurrency.CNY?.sales).toEqual({ count: 1, amount: 700 });
    expect(formatSettlementTotals(hostTotals(batchTotals(storeOf(db).transactions, 3), 'CNY'))).toBe('0'.repeat(36));
  });

  it('refuses to put a foreign-currency payment into the single-currency field 63', () => {
    addPayment(journal, 'sale', 100, 'approved');
    addPayment(journal, 'sale', 100, 'approved', 'USD');
    expect(() => hostTotals(batchTotals(storeOf(db).transactions, 1), 'CNY')).toThrow(
      expect.objectContaining({ code: 'SETTLEMENT_MIXED_CURRENCY' }),
    );
  });
});
