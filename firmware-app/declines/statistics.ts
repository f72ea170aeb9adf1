import type { TransactionRepo } from '../store/transaction-repo.js';
import { shownAsDecline, TXN_STATES, type TxnState } from '../payments/lifecycle.js';
import { DECLINE_CATEGORIES, explain, type DeclineCategory } from './catalog.js';

/**
 * States in which the cashier was told DECLINED (the lifecycle's `shownAsDecline`): a host
 * timeout ended declined at the counter even though a reversal still has to go out. A
 * cancel is not among them.
 */
export const DECLINE_STATES: readonly TxnState[] = TXN_STATES.filter(shownAsDecline);

const HOUR_MS = 3_600_000;

export interface DeclineStatistics {
  from: number;
  to: number;
  total: number;
  byCode: { code: string; category: DeclineCategory; known: boolean; count: number }[];
  byCategory: Record<DeclineCategory, number>;
  /** One bucket per hour that had declines, `hourStart` in epoch ms, oldest first. */
  byHour: { hourStart: number; count: number }[];
  /** Codes not in the catalog (shown to the cashier with the generic text): add them. */
  unknown: { code: string; count: number }[];
}

/**
 * Decline statistics from the journal itself, so they survive restarts and agree with what
 * the cashier saw. A decline counts at the moment the transaction entered its decline state.
 */
export function declineStatistics(transactions: TransactionRepo, range: { from?: number; to?: number } = {}): DeclineStatistics {
  const from = range.from ?? 0;
  const to = range.to ?? Number.MAX_SAFE_INTEGER;
  const rows = transactions.arrivals(DECLINE_STATES, from, to);

  const byCode = new Map<string, number>();
  const byHour = new Map<number, number>();
  const byCategory = Object.fromEntries(DECLINE_CATEGORIES.map((c) => [c, 0])) as Record<DeclineCategory, number>;
  for (const r of rows) {
    byCode.set(r.code, (byCode.get(r.code) ?? 0) + 1);
    const hour = Math.floor(r.at / HOUR_MS) * HOUR_MS;
    byHour.set(hour, (byHour.get(hour) ?? 0) + 1);
    byCategory[explain(r.code).category]++;
  }
  const codes = [...byCode.entries()]
    .map(([code, count]) => {
      const entry = explain(code);
      return { code, category: entry.category, known: entry.known, count };
    })
    .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  return {
    from,
    to,
    total: rows.length,
    byCode: codes,
    byCategory,
    byHour: [...byHour.entries()].sort((a, b) => a[0] - b[0]).map(([hourStart, count]) => ({ hourStart, count })),
    unknown: codes.filter((c) => !c.known).map(({ code, count }) => ({ code, count })),
  };
}
