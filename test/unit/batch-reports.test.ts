import { describe, expect, it } from 'vitest';
import type { JobRun } from '../../firmware-app/jobs/scheduler.js';
import type { Batch } from '../../firmware-app/settlement/settlement.js';
import type { BatchTotals } from '../../firmware-app/settlement/totals.js';
import { batchReports } from '../../firmware-app/ui/batch-reports.js';

const SLOT = Date.UTC(2026, 10, 22, 15, 30);

function terminal(closed: Batch[], runs: JobRun[]) {
  const open: Batch = { number: 7, state: 'open', openedAt: 1_000, closedAt: null, totals: null, responseCode: null };
  const totals: BatchTotals = {
    batchNumber: 7,
    byCurrency: {
      CNY: {
        sales: { count: 2, amount: 5_000 },
        offlineSales: { count: 0, amount: 0 },
        refunds: { count: 1, amount: 700 },
        voids: { count: 0, amount: 0 },
      },
    },
    unsettled: { inFlight: 1, reversalsPending: 1, offlinePending: 3, voidsPending: 0 },
  };
  return {
    batches: { openBatch: () => open, totals: () => totals, batches: () => [...closed, open] },
    settlementRuns: () => runs,
  };
}

const batch = (number: number, state: Batch['state']): Batch => ({
  number,
  state,
  openedAt: 0,
  closedAt: 500 + number,
  totals: { salesCount: 1, salesAmount: 100, refundsCount: 0, refundsAmount: 0 },
  responseCode: '95',
});

const run = (batchNumber: number, reason: string): JobRun => ({
  id: batchNumber,
  job: 'settlement',
  scheduledFor: SLOT,
  startedAt: 600,
  finishedAt: 601,
  outcome: 'ok',
  error: null,
  detail: { reason, batches: [{ batchNumber }] },
});

describe('batch reports at the console', () => {
  it('the X report counts the open batch in the terminal currency and names what is not in it yet', () => {
    const r = batchReports(terminal([], []), 'CNY');
    expect(r.current).toEqual({
      batchNumber: 7,
      openedAt: 1_000,
      sales: { count: 2, amount: 5_000 },
      refunds: { count: 1, amount: 700 },
      voids: { count: 0, amount: 0 },
      offlinePending: 3,
      undecided: 2,
    });
    expect(r.last).toBeUndefined();
  });

  it('the last settlement is the newest closed batch; the run that closed it tells whether it was a catch-up and for which slot', () => {
    const catchUp = batchReports(
      terminal([batch(5, 'closed'), batch(6, 'out_of_balance')], [run(6, 'catch-up'), run(5, 'scheduled')]),
      'CNY',
    );
    expect(catchUp.last).toMatchObject({ batchNumber: 6, inBalance: false, catchUpFor: SLOT });
    const scheduled = batchReports(terminal([batch(5, 'closed')], [run(6, 'catch-up'), run(5, 'scheduled')]), 'CNY');
    expect(scheduled.last).toMatchObject({ batchNumber: 5, inBalance: true, catchUpFor: null });
  });
});
