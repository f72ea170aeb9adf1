import type { CardReadResult, EntryMode, PinResult } from '../../drivers/card-reader/types.js';
import { isPosError } from '../../drivers/base/errors.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/store.js';
import type { Journal, Transaction } from './journal.js';
import { paymentOutcome, type PaymentCardReader, type PaymentHostChannel, type PaymentOutcome, type PaymentProgress } from './outcome.js';

/**
 * Cardholder verification by PIN (docs/protocols/card-reader.md section 7.2,
 * host-iso8583.md section 4.7): when a sale needs a PIN, the reader asks for it, the
 * enciphered block and its KSN go to the host in fields 52 and 53, a wrong PIN (55) is
 * asked again within a bound, and a sale that needs a PIN is never approved offline.
 */
export interface CvmSettings {
  /** Per entry mode, the largest amount (minor units) approved without a PIN; above it the cardholder enters one. */
  limits: Readonly<Record<EntryMode, number>>;
  /** A cardholder may bypass PIN entry, where the card allows it too. */
  allowBypass: boolean;
  pinTimeoutMs: number;
  /** PIN entries per sale in all: after a wrong PIN (55) the cardholder is asked again until this many were sent. */
  pinTries: number;
}

/** The local decline of a bypass the card or the configuration does not allow (firmware-app/declines/catalog.ts). */
const BYPASS_REFUSED = 'PIN_REQUIRED';

const WRONG_PIN = '55';

/** The card asks for a PIN at every amount, or the amount is above the limit of its entry mode. */
export function pinRequired(cvm: CvmSettings, amount: number, card: Pick<CardReadResult, 'entryMode' | 'pinPolicy'>): boolean {
  return card.pinPolicy === 'ALWAYS' || amount > cvm.limits[card.entryMode];
}

/** A bypass stands only where both the card and the terminal's configuration allow it. */
export function bypassAccepted(cvm: CvmSettings, card: Pick<CardReadResult, 'pinPolicy'>): boolean {
  return cvm.allowBypass && card.pinPolicy === 'LIMIT_BYPASS';
}

/** What the PIN step hands the authorisation: whether a PIN was needed, and the block with its KSN when one was entered. */
export interface CardholderVerification {
  pinRequired: boolean;
  pin?: { block: Buffer; ksn: Buffer };
}

/** The engine's side of the PIN step. */
export interface CvmPort {
  store: Store;
  journal: Journal;
  reader: PaymentCardReader;
  link: Pick<PaymentHostChannel, 'ready'>;
  logger: Logger;
  cvm: CvmSettings;
  /** Records the card on `txn` (inside the caller's SQLite transaction). */
  recordCard(txn: Transaction, card: CardReadResult): void;
  /** Sends the sale with what the PIN step found, or decides it offline. */
  authorize(txn: Transaction, card: CardReadResult, verification: CardholderVerification): Promise<PaymentOutcome>;
  /** The PIN entry is cancellable, as the card read is. Returns whether the cashier asked to cancel. */
  interactive(): { cashierCancelled(): boolean };
}

/**
 * Runs the PIN step where the sale needs it and authorises. A PIN entered after a wrong one
 * goes in a new sale (new STAN: a 0200 is never re-sent), so each try is its own journal row.
 */
export async function verifyAndAuthorize(
  port: CvmPort,
  txn: Transaction,
  card: CardReadResult,
  onProgress: (p: PaymentProgress) => void,
): Promise<PaymentOutcome> {
  const needed = txn.type === 'sale' && pinRequired(port.cvm, txn.amount, card);
  // Nobody could verify a PIN while the host is not ready: the offline rules decline it without asking.
  if (!needed || !port.link.ready) return port.authorize(txn, card, { pinRequired: needed });
  const log = port.logger.child('payments');
  let current = txn;
  for (let attempt = 1; ; attempt++) {
    const interaction = port.interactive();
    onProgress('entering-pin');
    let entry: PinResult;
    try {
      entry = await port.reader.pin(port.cvm.pinTimeoutMs);
    } catch (err) {
      const code = isPosError(err) ? err.code : 'READER_CARD_READ_FAILED';
      if (code === 'READER_CANCELLED')
        return endBeforeSend(port, current, card, 'cancelled', interaction.cashierCancelled() ? 'CASHIER_CANCELLED' : code);
      return endBeforeSend(port, current, card, 'declined_local', code);
    }
    if (entry.bypassed) {
      if (!bypassAccepted(port.cvm, card)) return endBeforeSend(port, current, card, 'declined_local', BYPASS_REFUSED);
      log.info({ txn: current.id }, 'PIN bypassed; card and configuration allow it');
      return port.authorize(current, card, { pinRequired: true });
    }
    const outcome = await port.authorize(current, card, { pinRequired: true, pin: { block: entry.pinBlock, ksn: entry.ksn } });
    if (outcome.result !== 'declined' || outcome.code !== WRONG_PIN || attempt >= port.cvm.pinTries) return outcome;
    log.info({ txn: current.id, attempt }, 'wrong PIN; asking again in a new sale');
    current = port.journal.create(
      { type: 'sale', amount: current.amount, currency: current.currency, operator: current.operator ?? undefined },
      { flush: false },
    );
  }
}

/** The PIN step ended the sale before anything was sent: the card and the end commit together. */
function endBeforeSend(
  port: CvmPort,
  txn: Transaction,
  card: CardReadResult,
  result: 'cancelled' | 'declined_local',
  code: string,
): PaymentOutcome {
  const ended = port.store.tx(() => {
    port.recordCard(txn, card);
    return port.journal.apply(
      txn.id,
      { kind: result === 'cancelled' ? 'Cancelled' : 'RefusedLocally' },
      { declineCode: code },
      { step: 'pin', code },
      'card_read',
    );
  });
  port.logger.child('payments').info({ txn: txn.id, code }, 'PIN step ended the payment; nothing sent');
  return paymentOutcome(result, ended, code);
}
