import type { JournalRecord } from '../../firmware-app/reconcile/reconcile.js';

/** What the cashier saw for one sale: the amount typed and the result line naming a transaction. */
export interface ConsoleOutcome {
  sale: number;
  /** Minor units, as typed at the console. */
  amount: number;
  outcome: 'approved' | 'offline' | 'declined' | 'not-completed';
  txnId: number;
}

/** Final journal states each console line may end in (a declined sale may have been a timeout, then reversed). */
const ALLOWED: Record<ConsoleOutcome['outcome'], readonly string[]> = {
  approved: ['approved'],
  offline: ['forwarded_approved', 'forwarded_declined'],
  declined: ['declined', 'declined_local', 'reversed'],
  'not-completed': ['not_completed'],
};

/**
 * The console against the journal: every result line names a transaction whose amount is
 * the one typed and whose final state agrees with what the cashier was told.
 */
export function checkConsole(journal: readonly JournalRecord[], outcomes: readonly ConsoleOutcome[]): string[] {
  const byId = new Map(journal.map((r) => [r.id, r]));
  const problems: string[] = [];
  for (const o of outcomes) {
    const row = byId.get(o.txnId);
    if (!row) {
      problems.push(`console: sale ${o.sale} showed ${o.outcome} for transaction ${o.txnId}, which the journal does not hold`);
      continue;
    }
    if (row.amount !== o.amount) problems.push(`console: sale ${o.sale} typed ${o.amount}, transaction ${o.txnId} holds ${row.amount}`);
    if (!ALLOWED[o.outcome].includes(row.state))
      problems.push(`console: sale ${o.sale} showed ${o.outcome} for transaction ${o.txnId}, the journal ends ${row.state}`);
  }
  return problems;
}
