import { PosError } from '../../drivers/base/errors.js';
import { isCurrencyCode, type CurrencyCode } from '../core/money.js';
import type { SettlementTotals } from '../host/messages.js';
import { totalsLine, type TotalsLine, type TxnState, type TxnType } from '../payments/lifecycle.js';
import type { TransactionRepo } from '../store/transaction-repo.js';

export interface Tally {
  count: number;
  /** Minor units of the currency. */
  amount: number;
}

export interface CurrencyTotals {
  /** Sales the host posted: approved online (void still pending included) and offline sales it accepted as advices. */
  sales: Tally;
  /** The part of `sales` that was approved offline and forwarded. */
  offlineSales: Tally;
  refunds: Tally;
  /** Sales cancelled by a void; in neither sales nor refunds. */
  voids: Tally;
}

export interface BatchTotals {
  batchNumber: number;
  byCurrency: Partial<Record<CurrencyCode, CurrencyTotals>>;
  /** Payments of the batch the host's figures may not agree with yet. */
  unsettled: {
    /** Sent to the host, answer not yet in. */
    inFlight: number;
    /** Waiting for a 0410: the host may hold a posting the journal does not count. */
    reversalsPending: number;
    /** Approved offline, not yet accepted by the host as an advice. */
    offlinePending: number;
    /** Void sent, answer not yet in. */
    voidsPending: number;
  };
}

export class SettlementTotalsError extends PosError {}

const zero = (): Tally => ({ count: 0, amount: 0 });
const emptyCurrency = (): CurrencyTotals => ({ sales: zero(), offlineSales: zero(), refunds: zero(), voids: zero() });

function add(t: Tally, count: number, amount: number): void {
  t.count += count;
  t.amount += amount;
}

/** Which totals line a journal row counts in: the lifecycle's `totalsLine`. */
export function classify(type: TxnType, state: TxnState): TotalsLine | null {
  return totalsLine(type, state);
}

/** The batch's totals per currency, read from the journal in one consistent snapshot. */
export function batchTotals(transactions: TransactionRepo, batchNumber: number): BatchTotals {
  const rows = transactions.batchGroups(batchNumber);
  const totals: BatchTotals = {
    batchNumber,
    byCurrency: {},
    unsettled: { inFlight: 0, reversalsPending: 0, offlinePending: 0, voidsPending: 0 },
  };
  for (const r of rows) {
    const kind = classify(r.type, r.state);
    if (kind === null) continue;
    if (!isCurrencyCode(r.currency)) {
      throw new SettlementTotalsError(
        'SETTLEMENT_UNKNOWN_CURRENCY',
        `batch ${batchNumber} holds payments in ${r.currency}, which this build does not know`,
        { batchNumber },
      );
    }
    const c = (totals.byCurrency[r.currency] ??= emptyCurrency());
    switch (kind) {
      case 'sale':
        add(c.sales, r.n, r.amount);
        break;
      case 'offlineSale':
        add(c.sales, r.n, r.amount);
        add(c.offlineSales, r.n, r.amount);
        break;
      case 'refund':
        add(c.refunds, r.n, r.amount);
        break;
      case 'void':
        add(c.voids, r.n, r.amount);
        break;
      case 'inFlight':
        totals.unsettled.inFlight += r.n;
        break;
      case 'reversalPending':
        totals.unsettled.reversalsPending += r.n;
        break;
      case 'offlinePending':
        totals.unsettled.offlinePending += r.n;
        break;
      case 'voidPending':
        totals.unsettled.voidsPending += r.n;
        break;
    }
  }
  return totals;
}

/**
 * Field 63 carries one currency. A batch with money in another currency than the
 * terminal's cannot be settled over this link: that is a configuration change made
 * mid-batch, and the technician must see it rather than have part of the money vanish.
 */
export function hostTotals(totals: BatchTotals, currency: CurrencyCode): SettlementTotals {
  const others = (Object.keys(totals.byCurrency) as CurrencyCode[]).filter((c) => c !== currency);
  if (others.length > 0) {
    throw new SettlementTotalsError(
      'SETTLEMENT_MIXED_CURRENCY',
      `batch ${totals.batchNumber} holds payments in ${others.join(', ')} besides the terminal currency ${currency}`,
      { batchNumber: totals.batchNumber, currencies: others },
    );
  }
  const c = totals.byCurrency[currency] ?? emptyCurrency();
  return { salesCount: c.sales.count, salesAmount: c.sales.amount, refundsCount: c.refunds.count, refundsAmount: c.refunds.amount };
}

export function unsettledCount(totals: BatchTotals): number {
  const u = totals.unsettled;
  return u.inFlight + u.reversalsPending + u.offlinePending + u.voidsPending;
}
