import type { CardReadResult, PinResult } from '../../drivers/card-reader/types.js';
import type { CurrencyCode } from '../core/money.js';
import { explain } from '../declines/catalog.js';
import { reversalNotice } from '../declines/reversal-notice.js';
import type { IsoMessage } from '../host/iso8583/packager.js';
import type { LinkState } from '../host/link.js';
import type { TerminalIdentity } from '../host/messages.js';
import type { CvmSettings } from './cvm.js';
import type { Transaction } from './journal.js';
import type { OfflineExposure, OfflineRules } from './offline-rules.js';
import type { RetryAdvice } from './retry-advice.js';

/* The payments engine's face: the ports it drives, its settings, and what it tells the cashier. */

/** The part of the card reader the engine uses. */
export interface PaymentCardReader {
  read(input: { amount: number; currency: string; timeoutMs: number }): Promise<CardReadResult>;
  display(line1: string, line2?: string): Promise<void>;
  pin(timeoutMs: number): Promise<PinResult>;
  cancel(): Promise<void>;
}

/** The part of the host link the engine uses. */
export interface PaymentHostChannel {
  readonly state: LinkState;
  /** Connected and signed on; nothing financial is sent otherwise. */
  readonly ready: boolean;
  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage>;
}

/** The store-and-forward queue as the offline decision sees it: what is already owed, and where an approval goes. */
export interface OfflineQueuePort {
  exposure(currency: CurrencyCode): OfflineExposure;
  /** Runs inside the approval's store transaction. */
  enqueue(item: { transactionId: number; encryptedBlob: Buffer; expiry: string | null; now: number; iccData?: Buffer | undefined }): void;
}

export interface PaymentSettings {
  identity: TerminalIdentity;
  currency: CurrencyCode;
  maxAmount: number;
  readTimeoutMs: number;
  responseTimeoutMs: number;
  offline: OfflineRules;
  cvm: CvmSettings;
}

export type PaymentResult =
  | 'approved'
  | 'offline_approved'
  | 'declined'
  | 'reversal_pending'
  | 'declined_local'
  | 'cancelled'
  /** A device fault ended it before anything was sent: nothing charged, and no decline. */
  | 'not_completed';

export interface PaymentOutcome {
  result: PaymentResult;
  transaction: Transaction;
  /** The catalog code explaining a non-approval (field 39 or a local reason). */
  code: string | null;
  /** One line for the cashier. */
  message: string;
  /** For a payment being reversed: what ringing it again would do now. */
  retry?: RetryAdvice;
}

/** Who rang the payment up: the operator number signed in at the console, journaled with it. */
export interface Attribution {
  operator?: string;
}

export type PaymentProgress = 'waiting-for-card' | 'card-read' | 'entering-pin' | 'sending-pending-reversal' | 'waiting-for-host' | 'done';

/** The console and receipts speak of sales; refunds and voids report the same way. */
export type SaleProgress = PaymentProgress;
export type SaleOutcome = PaymentOutcome;
export type SaleResult = PaymentResult;

/** What a cancel request found: a card read it stopped, a request already with the host, or nothing running. */
export type CancelResult = 'cancelling' | 'too-late' | 'idle';

/** A void whose answer did not come: for the cashier, the void did not happen and the sale stands. */
export const VOID_TIMEOUT_CODE = 'VOID_HOST_TIMEOUT';

/**
 * What the cashier is told about a result: one line, from the decline catalog for anything not
 * approved, and for a payment being reversed what is known of the money (issue: never "not
 * charged" before the 0410).
 */
export function paymentOutcome(result: PaymentResult, transaction: Transaction, code: string | null): PaymentOutcome {
  const notice = reversalNotice(transaction.type, transaction.state);
  const message =
    result === 'approved'
      ? 'APPROVED'
      : result === 'offline_approved'
        ? 'APPROVED OFFLINE'
        : result === 'cancelled'
          ? `CANCELLED: ${explain(code ?? '').cashier.en}`
          : result === 'not_completed'
            ? `NOT COMPLETED: ${explain(code ?? '').cashier.en}`
            : `DECLINED: ${explain(code ?? '').cashier.en}${notice ? `. ${notice.en}` : ''}`;
  return { result, transaction, code, message };
}

/**
 * Field 38 for an offline approval: "Y1" (the EMV convention for offline-approved) and the
 * last four digits of the STAN, so it is unique within the queue and recognisable on a slip.
 */
export function offlineAuthCode(stan: string): string {
  return `Y1${stan.slice(-4)}`;
}
