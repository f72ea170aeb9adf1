import type { Logger } from '../logging/logger.js';
import type { Journal } from './journal.js';
import { beforeSend, inFlight, TXN_STATES } from './lifecycle.js';
import type { PaymentEngine } from './sale.js';

/**
 * The one recovery: a request whose answer never arrived (the process died, or the answer
 * could not be recorded) may have been posted: it becomes reversal_pending, never re-sent.
 * What never left is closed as not completed. Queued work resumes by itself (the queues read
 * their rows). Only safe while no payment is running: the caller holds the device lock.
 */
export function recoverPayments(journal: Journal, sales: PaymentEngine, log: Logger): void {
  // Nothing of these reached the host (online_sent is committed before any send), so
  // closing them as not completed is safe and keeps them out of the open batch.
  for (const state of TXN_STATES.filter(beforeSend)) {
    for (const txn of journal.inState(state)) {
      journal.apply(
        txn.id,
        { kind: 'Faulted' },
        { declineCode: 'PAYMENT_INTERRUPTED' },
        { reason: 'interrupted before authorisation' },
        state,
      );
      log.warn({ txn: txn.id, state }, 'payment interrupted before authorisation; not completed, not charged');
    }
  }
  for (const state of TXN_STATES.filter(inFlight)) {
    for (const txn of journal.inState(state)) {
      journal.apply(txn.id, { kind: 'TimedOut' }, { declineCode: 'HOST_TIMEOUT' }, { reason: 'no answer recorded before recovery' }, state);
      log.warn({ txn: txn.id, stan: txn.stan }, 'sale left in flight with no recorded answer; reversal pending');
    }
  }
  sales.recoverVoids();
}
