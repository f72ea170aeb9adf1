import type { Logger } from '../logging/logger.js';
import type { Journal, Transaction } from '../payments/journal.js';
import { TMS_EVENT, type ReportUpstream } from '../upstream/events.js';
import { explain } from './catalog.js';

/** One transaction is reported at most once, whoever enqueues it (this reporter, the SAF forwarder). */
export const declineEventId = (txn: Pick<Transaction, 'uuid'>): string => `decline:${txn.uuid}`;
export const cancelEventId = (txn: Pick<Transaction, 'uuid'>): string => `cancel:${txn.uuid}`;

/** The upstream payload: what the fleet operator needs, never card data (no PAN, token or last four). */
export function declinePayload(txn: Transaction): Record<string, unknown> {
  const code = txn.declineCode ?? txn.responseCode ?? '';
  const entry = explain(code);
  return {
    transactionId: txn.uuid,
    transactionType: txn.type,
    state: txn.state,
    code,
    category: entry.category,
    retry: entry.retry,
    known: entry.known,
    responseCode: txn.responseCode,
    amount: txn.amount,
    currency: txn.currency,
    stan: txn.stan,
    entryMode: txn.entryMode,
    batchNumber: txn.batchNumber,
  };
}

/**
 * Writes a decline event to the outbox inside the SQLite transaction of the decline
 * itself (journal observers run inside it), so the report exists if and only if the
 * decline does. A cancel is reported as a cancel, never as a decline, so fleet decline
 * figures count only refusals. `onEnqueued` runs after the observer and must only schedule work.
 */
export function attachDeclineReporter(
  journal: Journal,
  report: ReportUpstream,
  options: { logger?: Logger; onEnqueued?: () => void } = {},
): void {
  journal.onTransition(({ txn, effects }) => {
    if (effects.includes('report-cancel')) {
      report({ eventId: cancelEventId(txn), type: TMS_EVENT.cancel, payload: declinePayload(txn) });
      options.onEnqueued?.();
      return;
    }
    if (!effects.includes('report-decline')) return;
    const payload = declinePayload(txn);
    if (payload.known === false) options.logger?.warn({ txn: txn.id, code: payload.code }, 'decline code not in the catalog');
    report({ eventId: declineEventId(txn), type: TMS_EVENT.decline, payload });
    options.onEnqueued?.();
  });
}
