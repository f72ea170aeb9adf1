import type { CurrencyCode } from '../core/money.js';
import type { JobRun } from '../jobs/scheduler.js';
import type { Settlement } from '../settlement/settlement.js';
import type { BatchReports } from './terminal-port.js';

/**
 * The X report (the open batch's totals, nothing closed) and the last settlement, as the
 * cashier console shows them. A settlement run at start-up for a slot missed while the
 * terminal was off is a catch-up: it says so, with the business day it closes.
 */
export function batchReports(
  terminal: { batches: Pick<Settlement, 'openBatch' | 'totals' | 'batches'>; settlementRuns(limit: number): JobRun[] },
  currency: CurrencyCode,
): BatchReports {
  const open = terminal.batches.openBatch();
  const totals = terminal.batches.totals(open.number);
  const mine = totals.byCurrency[currency];
  const zero = { count: 0, amount: 0 };
  const u = totals.unsettled;
  const current = {
    batchNumber: open.number,
    openedAt: open.openedAt,
    sales: mine?.sales ?? zero,
    refunds: mine?.refunds ?? zero,
    voids: mine?.voids ?? zero,
    offlinePending: u.offlinePending,
    undecided: u.inFlight + u.reversalsPending + u.voidsPending,
  };
  const closed = terminal.batches.batches().filter((b) => b.state === 'closed' || b.state === 'out_of_balance');
  const batch = closed.at(-1);
  if (!batch) return { current };
  // The run that closed it: the settlement job records the batches each run closed.
  const closedBy = (detail: Record<string, unknown> | null) =>
    Array.isArray(detail?.batches) && (detail.batches as { batchNumber?: unknown }[]).some((b) => b.batchNumber === batch.number);
  const run = terminal.settlementRuns(50).find((r) => closedBy(r.detail));
  return {
    current,
    last: {
      batchNumber: batch.number,
      closedAt: batch.closedAt,
      inBalance: batch.state === 'closed',
      totals: batch.totals,
      catchUpFor: run?.detail?.reason === 'catch-up' ? run.scheduledFor : null,
    },
  };
}
