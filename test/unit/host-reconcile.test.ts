import { describe, expect, it } from 'vitest';
import { reconcile, type HostPosting, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';

const T = 'TERM0001';
let nextId = 1;
const txn = (stan: string | null, state: JournalRecord['state'], extra: Partial<JournalRecord> = {}): JournalRecord => ({
  id: nextId++,
  type: 'sale',
  state,
  amount: 1234,
  currency: 'CNY',
  stan,
  ...extra,
});
const posting = (stan: string, status: HostPosting['status'], extra: Partial<HostPosting> = {}): HostPosting => ({
  terminalId: T,
  stan,
  kind: 'sale',
  amount: 1234,
  currency: '156',
  status,
  ...extra,
});

describe('reconcile', () => {
  it('is clean when every state matches what the host holds', () => {
    const journal = [
      txn('000001', 'approved'),
      txn('000002', 'declined'),
      txn('000003', 'reversed'),
      txn('000004', 'reversed'),
      txn(null, 'declined_local'),
      txn('000005', 'forwarded_approved'),
      txn('000006', 'forwarded_declined'),
      txn('000007', 'offline_approved'),
      txn('000008', 'voided'),
      txn('000009', 'approved', { type: 'void' }),
      txn('000010', 'approved', { type: 'refund', amount: 500 }),
    ];
    const ledger = [
      posting('000001', 'posted'),
      posting('000002', 'declined'),
      posting('000003', 'reversed'),
      // 000004: reversal arrived before (or instead of) the original: no entry at all.
      posting('000005', 'posted', { kind: 'advice' }),
      posting('000006', 'declined', { kind: 'advice' }),
      posting('000008', 'voided'),
      posting('000009', 'posted', { kind: 'void' }),
      posting('000010', 'posted', { kind: 'refund', amount: 500 }),
      posting('000001', 'posted', { terminalId: 'TERM0002' }),
    ];
    expect(reconcile(journal, ledger, T)).toEqual({ clean: true, checked: 11, mismatches: [] });
  });

  it('lists every kind of difference', () => {
    const journal = [
      txn('000001', 'approved'),
      txn('000002', 'reversed'),
      txn('000003', 'approved', { amount: 999 }),
      txn('000004', 'voided'),
      txn('000005', 'reversal_pending'),
      txn('000006', 'forwarded_approved'),
    ];
    const ledger = [
      posting('000002', 'posted'),
      posting('000003', 'posted'),
      posting('000004', 'posted'),
      posting('000005', 'posted'),
      posting('000006', 'posted', { kind: 'sale' }),
      posting('000042', 'posted'),
    ];
    const result = reconcile(journal, ledger, T);
    expect(result.clean).toBe(false);
    expect(result.mismatches.map((m) => [m.stan, m.kind])).toEqual([
      ['000001', 'missing-posting'],
      ['000002', 'unexpected-posting'],
      ['000003', 'different-details'],
      ['000004', 'not-voided'],
      ['000005', 'unexpected-posting'],
      ['000006', 'different-details'],
      ['000042', 'unknown-posting'],
    ]);
  });
});
