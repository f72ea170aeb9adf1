import type { EntryMode } from '../../drivers/card-reader/types.js';
import type { TxnType } from './lifecycle.js';

/**
 * The limits within which the terminal may approve a payment on its own while the host
 * is unreachable. Pure data and a pure function: the merchant carries the loss of every
 * offline approval the issuer later refuses, so these rules are the merchant's risk
 * policy, tested at every boundary. Amounts are minor units of the terminal currency.
 * A value AT a limit is allowed; one unit over is declined.
 */
export interface OfflineRules {
  enabled: boolean;
  /** Largest single offline payment. */
  floorLimit: number;
  /** Largest sum of offline payments waiting in the queue, this one included. */
  maxTotalAmount: number;
  /** Most offline payments waiting in the queue, this one included. */
  maxCount: number;
  /** How long an offline payment may wait for the host; past it, stop approving offline. */
  maxAgeMs: number;
  entryModes: readonly EntryMode[];
  /** PAN tokens (keyed hashes from the reader) of cards never to approve offline. */
  hotListedTokens: readonly string[];
}

/** What the rules need to know about the payment. */
export interface OfflineCandidate {
  type: TxnType;
  amount: number;
  entryMode: EntryMode;
  panToken: string;
  /** The card or the CVM limit asks for a PIN, which only the host can verify. */
  pinRequired: boolean;
}

/** What the rules need to know about the queue of offline payments not yet forwarded. */
export interface OfflineExposure {
  count: number;
  totalAmount: number;
  /** When the oldest queued payment was approved, or null for an empty queue. */
  oldestQueuedAt: number | null;
}

/** Each broken rule has its own local decline code (firmware-app/declines/catalog.ts). */
export const OFFLINE_DECLINE = {
  disabled: 'OFFLINE_DISABLED',
  refund: 'OFFLINE_REFUND_NOT_ALLOWED',
  void: 'OFFLINE_VOID_NOT_ALLOWED',
  hotListed: 'HOT_LISTED_CARD',
  entryMode: 'OFFLINE_ENTRY_MODE',
  pin: 'OFFLINE_PIN_REQUIRED',
  floorLimit: 'OFFLINE_FLOOR_LIMIT',
  count: 'OFFLINE_COUNT_LIMIT',
  totalAmount: 'OFFLINE_AMOUNT_LIMIT',
  age: 'OFFLINE_QUEUE_TOO_OLD',
} as const;

export type OfflineDeclineCode = (typeof OFFLINE_DECLINE)[keyof typeof OFFLINE_DECLINE];

export type OfflineDecision = { approve: true } | { approve: false; code: OfflineDeclineCode; detail: Record<string, number | string> };

const decline = (code: OfflineDeclineCode, detail: Record<string, number | string> = {}): OfflineDecision => ({
  approve: false,
  code,
  detail,
});

/**
 * Decides one payment. Checks run from the most to the least fundamental reason, so the
 * cashier sees the reason that no other change (a smaller amount, another card) would fix.
 */
export function decideOffline(rules: OfflineRules, candidate: OfflineCandidate, exposure: OfflineExposure, now: number): OfflineDecision {
  if (candidate.type === 'refund') return decline(OFFLINE_DECLINE.refund);
  if (candidate.type === 'void') return decline(OFFLINE_DECLINE.void);
  if (!rules.enabled) return decline(OFFLINE_DECLINE.disabled);
  if (rules.hotListedTokens.includes(candidate.panToken)) return decline(OFFLINE_DECLINE.hotListed);
  if (!rules.entryModes.includes(candidate.entryMode)) return decline(OFFLINE_DECLINE.entryMode, { entryMode: candidate.entryMode });
  // Before the floor limit: a PIN cannot be verified offline at any amount, and its own reason tells the cashier so.
  if (candidate.pinRequired) return decline(OFFLINE_DECLINE.pin);
  if (candidate.amount > rules.floorLimit)
    return decline(OFFLINE_DECLINE.floorLimit, { amount: candidate.amount, limit: rules.floorLimit });
  if (exposure.count + 1 > rules.maxCount) return decline(OFFLINE_DECLINE.count, { queued: exposure.count, limit: rules.maxCount });
  if (exposure.totalAmount + candidate.amount > rules.maxTotalAmount) {
    return decline(OFFLINE_DECLINE.totalAmount, { queuedAmount: exposure.totalAmount, limit: rules.maxTotalAmount });
  }
  if (exposure.oldestQueuedAt !== null && now - exposure.oldestQueuedAt > rules.maxAgeMs) {
    return decline(OFFLINE_DECLINE.age, { oldestAgeMs: now - exposure.oldestQueuedAt, limit: rules.maxAgeMs });
  }
  return { approve: true };
}
