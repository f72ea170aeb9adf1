import type { TxnState, TxnType } from './reducer.js';

/**
 * Named questions about a payment's state, each answered once. Settlement, receipts,
 * alerts, statistics, refunds, voids, recovery and the screens ask these instead of keeping
 * their own lists of states.
 */

/** Where every payment starts: created, no card read yet. */
export const INITIAL_STATE: TxnState = 'created';

/** Nothing has left for the host yet: the payment can still be cancelled or closed as not completed. */
export function beforeSend(state: TxnState): boolean {
  return state === 'created' || state === 'card_read';
}

/** The request left and its answer is not recorded yet. */
export function inFlight(state: TxnState): boolean {
  return state === 'online_sent';
}

/** The host answered the request with an approval (a sale, refund or void of its own). */
export function hostApproved(state: TxnState): boolean {
  return state === 'approved';
}

/** The host may hold a posting the terminal has given up on: a reversal must go out. */
export function needsReversal(state: TxnState): boolean {
  return state === 'reversal_pending';
}

/** The terminal gave the payment up and reverses it (or has): a late answer changes nothing. */
export function givenUp(state: TxnState): boolean {
  return state === 'reversal_pending' || state === 'reversed';
}

/** Still being decided: a change out of one of these is a result the cashier sees. */
export function undecided(state: TxnState): boolean {
  return beforeSend(state) || inFlight(state);
}

/**
 * Refused by the issuer, the host or a local rule. A cancel is not a decline, and neither
 * is a fault where nothing was sent.
 */
export function isDecline(state: TxnState): boolean {
  return state === 'declined' || state === 'declined_local' || state === 'forwarded_declined';
}

/** The cashier was shown DECLINED: a decline, or a host timeout that ended in a reversal. */
export function shownAsDecline(state: TxnState): boolean {
  return isDecline(state) || needsReversal(state);
}

/** The cashier or cardholder cancelled before anything was sent. */
export function isCancel(state: TxnState): boolean {
  return state === 'cancelled';
}

/** The outcome of an authorisation at the counter (what decline and timeout rates count). */
export function isCounterOutcome(state: TxnState): boolean {
  return state === 'approved' || state === 'declined' || state === 'declined_local' || state === 'offline_approved' || needsReversal(state);
}

/** A payment the terminal approved on its own; its receipt says OFFLINE. */
export function isOfflineApproval(state: TxnState): boolean {
  return state === 'offline_approved' || state === 'forwarded_approved' || state === 'forwarded_declined' || state === 'expired';
}

/** What a slip says about a payment in this state. */
export function receiptResult(state: TxnState): 'APPROVED' | 'VOIDED' | 'DECLINED' {
  if (state === 'approved' || state === 'offline_approved' || state === 'forwarded_approved' || state === 'void_pending') return 'APPROVED';
  return state === 'voided' ? 'VOIDED' : 'DECLINED';
}

/**
 * The slips a result prints, as the lifecycle sees it. Approvals print a merchant and a
 * customer copy; a decline prints one slip when a card was read (there is someone to give it
 * to); cancels, faults and anything not coming from an undecided state print nothing (a
 * failed void putting its sale back to approved is not a new result).
 */
export function receiptCopies(from: TxnState | null, next: TxnState, cardRead: boolean): 'both' | 'customer' | 'none' {
  if (from === null || !undecided(from)) return 'none';
  if (next === 'approved' || next === 'offline_approved') return 'both';
  return shownAsDecline(next) && cardRead ? 'customer' : 'none';
}

/** A past result a reprint can show: anything the customer could have been handed. */
export function reprintable(state: TxnState): boolean {
  return receiptResult(state) !== 'DECLINED' || shownAsDecline(state) || state === 'reversed' || isOfflineApproval(state);
}

/** A sale the customer paid (online, or offline and accepted by the host): refunds may name it. */
export function refundable(type: TxnType, state: TxnState): boolean {
  return type === 'sale' && (state === 'approved' || state === 'forwarded_approved');
}

/** A refund in this state uses up part of its original's amount (it may be or become posted). */
export function refundHoldsAmount(state: TxnState): boolean {
  return undecided(state) || state === 'approved' || needsReversal(state);
}

/**
 * Why a payment cannot be voided, or null when it can. Only a sale approved online in the
 * open batch, with no refund against it: voiding a partly refunded sale would give back
 * the refunded part twice (the host posts the void for the full amount).
 */
export function whyNotVoidable(
  txn: { type: TxnType; state: TxnState },
  context: { openBatch: boolean; refunds: number; hostReference: boolean },
): string | null {
  if (txn.type !== 'sale') return `it is a ${txn.type}`;
  if (txn.state !== 'approved') return `it is ${txn.state}; only sales approved online can be voided`;
  if (!context.openBatch) return 'its batch is closed';
  if (context.refunds > 0) return 'it has refunds; refund the rest instead';
  if (!context.hostReference) return 'the host reference is missing';
  return null;
}

/** The batch totals line a journal row counts in (docs/protocols/host-iso8583.md 4.5). */
export type TotalsLine = 'sale' | 'offlineSale' | 'refund' | 'void' | 'inFlight' | 'reversalPending' | 'offlinePending' | 'voidPending';

/**
 * Sales answered 00 plus advices answered 00, refunds answered 00, nothing reversed. A void
 * row itself counts only while its fate is open (sent, or waiting for its reversal): its
 * sale carries the money, but a lost void answer may still be posted at the host.
 */
export function totalsLine(type: TxnType, state: TxnState): TotalsLine | null {
  if (inFlight(state)) return 'inFlight';
  if (needsReversal(state)) return 'reversalPending';
  if (type === 'void') return null;
  switch (state) {
    case 'offline_approved':
      return 'offlinePending';
    case 'approved':
      return type === 'refund' ? 'refund' : 'sale';
    case 'void_pending':
      return 'voidPending';
    case 'forwarded_approved':
      return 'offlineSale';
    case 'voided':
      return 'void';
    default:
      return null;
  }
}

/** True when the row is part of the money the batch reports to the host. */
export function countsInTotals(type: TxnType, state: TxnState): boolean {
  const line = totalsLine(type, state);
  return line === 'sale' || line === 'offlineSale' || line === 'refund' || line === 'void';
}

/** An offline approval the host refused or that expired unsent: the goods are gone and the merchant is not paid. */
export function merchantLoss(state: TxnState): boolean {
  return state === 'forwarded_declined' || state === 'expired';
}

/** What the acquirer's ledger must hold for a payment in this state: reconcile's question. */
export type HostExpectation = 'posted' | 'not-posted' | 'voided' | 'unknown' | 'lost';

/**
 * A request in flight, or a void whose answer is not in, may or may not be posted yet; a
 * pending reversal means the money must come back, so a posting is a mismatch a person
 * should see until the 0410; an offline approval is not at the host until forwarded.
 */
export function hostExpectation(state: TxnState): HostExpectation {
  if (inFlight(state) || state === 'void_pending') return 'unknown';
  if (state === 'voided') return 'voided';
  if (merchantLoss(state)) return 'lost';
  return hostApproved(state) || state === 'forwarded_approved' ? 'posted' : 'not-posted';
}
