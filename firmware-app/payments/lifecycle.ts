/**
 * The transaction lifecycle from the design contract, as data. Every state change in the
 * journal is checked against this table, so an impossible transition is a bug caught at
 * the moment it is attempted, not a corrupted journal found later.
 */
export const TRANSITIONS = {
  // A void names its original and needs no card, so it goes straight to the host.
  created: ['card_read', 'online_sent', 'declined_local'],
  card_read: ['online_sent', 'offline_approved', 'declined_local'],
  online_sent: ['approved', 'declined', 'reversal_pending'],
  reversal_pending: ['reversed'],
  reversed: [],
  approved: ['void_pending'],
  declined: [],
  declined_local: [],
  offline_approved: ['forwarded_approved', 'forwarded_declined', 'expired'],
  forwarded_approved: [],
  forwarded_declined: [],
  expired: [],
  void_pending: ['voided', 'approved'],
  voided: [],
} as const satisfies Record<string, readonly string[]>;

export type TxnState = keyof typeof TRANSITIONS;
export type TxnType = 'sale' | 'refund' | 'void';

export const FINAL_STATES: readonly TxnState[] = (Object.keys(TRANSITIONS) as TxnState[]).filter((s) => TRANSITIONS[s].length === 0);

export function canTransition(from: TxnState, to: TxnState): boolean {
  return (TRANSITIONS[from] as readonly string[]).includes(to);
}

/** States of a payment the terminal approved on its own; its receipt says OFFLINE. */
export const OFFLINE_APPROVAL_STATES: readonly TxnState[] = ['offline_approved', 'forwarded_approved', 'forwarded_declined', 'expired'];

export function isOfflineApproval(state: TxnState): boolean {
  return OFFLINE_APPROVAL_STATES.includes(state);
}

export function isTxnState(value: string): value is TxnState {
  return Object.hasOwn(TRANSITIONS, value);
}
