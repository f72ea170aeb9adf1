/**
 * The transaction lifecycle of the design contract as one pure reducer:
 * `(type, state, event) -> { next, effects }`. Transitions differ by transaction type (a
 * refund never goes offline, a void never reads a card); the table every other module and
 * the database guard use is derived from this function, so there is one owner of the rules.
 */

export const TXN_STATES = [
  'created',
  'card_read',
  'online_sent',
  'approved',
  'declined',
  'declined_local',
  'cancelled',
  'not_completed',
  'reversal_pending',
  'reversed',
  'offline_approved',
  'forwarded_approved',
  'forwarded_declined',
  'expired',
  'void_pending',
  'voided',
] as const;

export type TxnState = (typeof TXN_STATES)[number];

export const TXN_TYPES = ['sale', 'refund', 'void'] as const;
export type TxnType = (typeof TXN_TYPES)[number];

export type LifecycleEvent =
  /** The reader returned card data (sales and refunds only). */
  | { kind: 'CardRead' }
  /** The request is about to leave: committed before the first byte goes. */
  | { kind: 'Sent' }
  /** The host answered the request with field 39. */
  | { kind: 'Answered'; code: string }
  /** The request left and no usable answer came (timeout, crash, invalid answer). */
  | { kind: 'TimedOut' }
  /** The host approved, then the chip declined at its second cryptogram (AAC): the approval must be taken back. */
  | { kind: 'CardDeclined' }
  /** The host was not ready and nothing was sent: refunds and voids are online only. */
  | { kind: 'Unreachable' }
  /** The offline rules decided a sale the host could not take. */
  | { kind: 'OfflineDecided'; approved: boolean }
  /** A local rule refused the payment before anything was sent. */
  | { kind: 'RefusedLocally' }
  | { kind: 'ReversalAcked' }
  /** The host answered the store-and-forward advice. */
  | { kind: 'AdviceAnswered'; code: string }
  | { kind: 'Expired' }
  /** A void of this sale went out. */
  | { kind: 'VoidSent' }
  | { kind: 'VoidApproved' }
  /** The void was declined or unanswered: the sale stands. */
  | { kind: 'VoidFailed' }
  /** The cashier or cardholder cancelled before the request was sent. */
  | { kind: 'Cancelled' }
  /** A device or storage fault ended the payment before anything was sent. */
  | { kind: 'Faulted' };

export type LifecycleEffect =
  /** Queue a reversal (0400) in the same commit. */
  | 'reverse'
  /** Queue the store-and-forward advice in the same commit. */
  | 'forward'
  | 'report-decline'
  | 'report-cancel'
  /** The merchant carries a loss (offline approval declined or expired). */
  | 'alert-merchant';

export interface Step {
  next: TxnState;
  effects: readonly LifecycleEffect[];
}

const APPROVED_CODE = '00';

const to = (next: TxnState, ...effects: LifecycleEffect[]): Step => ({ next, effects });

/** Events that end a payment before anything was sent, from `created` or `card_read`. */
function beforeSend(event: LifecycleEvent): Step | null {
  switch (event.kind) {
    case 'Cancelled':
      return to('cancelled', 'report-cancel');
    case 'Faulted':
      return to('not_completed');
    case 'RefusedLocally':
      return to('declined_local', 'report-decline');
    default:
      return null;
  }
}

function online(state: TxnState, event: LifecycleEvent): Step | null {
  if (state !== 'online_sent') return null;
  switch (event.kind) {
    case 'Answered':
      return event.code === APPROVED_CODE ? to('approved') : to('declined', 'report-decline');
    case 'TimedOut':
    case 'CardDeclined':
      return to('reversal_pending', 'reverse', 'report-decline');
    default:
      return null;
  }
}

function reversal(state: TxnState, event: LifecycleEvent): Step | null {
  return state === 'reversal_pending' && event.kind === 'ReversalAcked' ? to('reversed') : null;
}

function sale(state: TxnState, event: LifecycleEvent): Step | null {
  switch (state) {
    case 'created':
      return event.kind === 'CardRead' ? to('card_read') : beforeSend(event);
    case 'card_read':
      if (event.kind === 'Sent') return to('online_sent');
      if (event.kind === 'OfflineDecided')
        return event.approved ? to('offline_approved', 'forward') : to('declined_local', 'report-decline');
      return beforeSend(event);
    case 'offline_approved':
      if (event.kind === 'AdviceAnswered')
        return event.code === APPROVED_CODE ? to('forwarded_approved') : to('forwarded_declined', 'report-decline', 'alert-merchant');
      return event.kind === 'Expired' ? to('expired', 'alert-merchant') : null;
    case 'approved':
      return event.kind === 'VoidSent' ? to('void_pending') : null;
    case 'void_pending':
      if (event.kind === 'VoidApproved') return to('voided');
      return event.kind === 'VoidFailed' ? to('approved') : null;
    default:
      return online(state, event) ?? reversal(state, event);
  }
}

/** Online only: with the host not ready a refund ends declined, never approved offline. */
function refund(state: TxnState, event: LifecycleEvent): Step | null {
  switch (state) {
    case 'created':
      return event.kind === 'CardRead' ? to('card_read') : beforeSend(event);
    case 'card_read':
      if (event.kind === 'Sent') return to('online_sent');
      if (event.kind === 'Unreachable') return to('declined_local', 'report-decline');
      return beforeSend(event);
    default:
      return online(state, event) ?? reversal(state, event);
  }
}

/** A void names its original and reads no card; it is online only and cannot itself be voided. */
function voidTxn(state: TxnState, event: LifecycleEvent): Step | null {
  if (state === 'created') {
    if (event.kind === 'Sent') return to('online_sent');
    if (event.kind === 'Unreachable') return to('declined_local', 'report-decline');
    return beforeSend(event);
  }
  return online(state, event) ?? reversal(state, event);
}

/** The lifecycle: the next state and the effects that commit with it, or null when the event is not allowed. */
export function reduce(type: TxnType, state: TxnState, event: LifecycleEvent): Step | null {
  switch (type) {
    case 'sale':
      return sale(state, event);
    case 'refund':
      return refund(state, event);
    case 'void':
      return voidTxn(state, event);
  }
}

/** One of each event shape, enough to enumerate every transition the reducer allows. */
export const SAMPLE_EVENTS: readonly LifecycleEvent[] = [
  { kind: 'CardRead' },
  { kind: 'Sent' },
  { kind: 'Answered', code: APPROVED_CODE },
  { kind: 'Answered', code: '05' },
  { kind: 'TimedOut' },
  { kind: 'CardDeclined' },
  { kind: 'Unreachable' },
  { kind: 'OfflineDecided', approved: true },
  { kind: 'OfflineDecided', approved: false },
  { kind: 'RefusedLocally' },
  { kind: 'ReversalAcked' },
  { kind: 'AdviceAnswered', code: APPROVED_CODE },
  { kind: 'AdviceAnswered', code: '05' },
  { kind: 'Expired' },
  { kind: 'VoidSent' },
  { kind: 'VoidApproved' },
  { kind: 'VoidFailed' },
  { kind: 'Cancelled' },
  { kind: 'Faulted' },
];

export type TransitionTable = Record<TxnType, Record<TxnState, readonly TxnState[]>>;

function buildTable(): TransitionTable {
  const table = {} as TransitionTable;
  for (const type of TXN_TYPES) {
    const byState = {} as Record<TxnState, TxnState[]>;
    for (const state of TXN_STATES) {
      const next = new Set<TxnState>();
      for (const event of SAMPLE_EVENTS) {
        const step = reduce(type, state, event);
        if (step) next.add(step.next);
      }
      byState[state] = [...next];
    }
    table[type] = byState;
  }
  return table;
}

/** Every allowed (type, from, to), derived from the reducer. */
export const TRANSITIONS: TransitionTable = buildTable();

/** The effects that commit with a change from `from` to `next` (the same whichever event made it). */
export function effectsOf(type: TxnType, from: TxnState, next: TxnState): readonly LifecycleEffect[] {
  const effects = new Set<LifecycleEffect>();
  for (const event of SAMPLE_EVENTS) {
    const step = reduce(type, from, event);
    if (step?.next === next) for (const e of step.effects) effects.add(e);
  }
  return [...effects];
}

export function canTransition(type: TxnType, from: TxnState, next: TxnState): boolean {
  return TRANSITIONS[type][from].includes(next);
}

export function isTxnState(value: string): value is TxnState {
  return (TXN_STATES as readonly string[]).includes(value);
}
