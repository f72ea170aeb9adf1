import { PosError } from '../../drivers/base/errors.js';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { receiptCopies, reprintable, type TxnState } from '../payments/lifecycle.js';
import type { Journal, Transaction, TransitionObserver } from '../payments/journal.js';
import { receiptForTransaction, type ReceiptContext } from '../receipts/from-transaction.js';
import type { PaperWidth, ReceiptCopy, ReceiptLanguage } from '../receipts/layout.js';
import { qrModuleSize } from '../receipts/qr-fit.js';
import { slipRecord } from '../receipts/slip.js';
import type { PrintJob, PrintQueue } from './queue.js';

export class NothingToReprintError extends PosError {
  constructor(id: number, state: TxnState) {
    super('PRINT_NOTHING_TO_REPRINT', `transaction ${id} has no receipt to reprint (it is ${state})`, { id, state });
  }
}

export interface ReceiptSettings extends ReceiptContext {
  widthMm: PaperWidth;
  /** Print a merchant copy before the customer copy of an approval. */
  merchantCopy: boolean;
  /** Where a slip printed without its QR code (too large for the paper) is told. */
  logger?: Logger;
}

/**
 * Receipts as print jobs. The slips for a result are written to `print_jobs` by a journal
 * observer, inside the SQLite transaction that commits the result: once the cashier can see
 * APPROVED, the receipt is durably queued, and a crash cannot lose one without the other.
 * A job records what its slip says (receipts/slip.ts); the print queue lays it out and
 * encodes it when it prints, outside the payment's transaction.
 */
export class ReceiptJobs {
  private language: ReceiptLanguage;
  private readonly logger: Logger;

  constructor(
    private readonly queue: PrintQueue,
    private readonly settings: ReceiptSettings,
  ) {
    this.language = settings.language;
    this.logger = settings.logger ?? silentLogger;
  }

  /** Slips follow the cashier's language: switching the console switches the slips printed from then on. */
  setLanguage(language: ReceiptLanguage): void {
    this.language = language;
  }

  /**
   * Starts queuing slips for results from now on. Called after start-up recovery, so a sale
   * interrupted before a restart does not print a slip long after the customer left.
   */
  attach(journal: Journal): void {
    journal.onTransition(this.observer);
  }

  /** Which copies a state change prints: approvals both (merchant first), declines one slip. */
  copiesFor(txn: Transaction, from: TxnState | null, to: TxnState): ReceiptCopy[] {
    const copies = receiptCopies(from, to, txn.last4 !== null);
    if (copies === 'both') return this.settings.merchantCopy ? ['merchant', 'customer'] : ['customer'];
    return copies === 'customer' ? ['customer'] : [];
  }

  private readonly observer: TransitionObserver = ({ txn, from, to }) => {
    for (const copy of this.copiesFor(txn, from, to)) this.enqueue(txn, copy, false);
  };

  /** Queues a copy of any past receipt from the journal, marked REPRINT. */
  reprint(txn: Transaction, copy: ReceiptCopy = 'customer'): PrintJob {
    if (!reprintable(txn.state)) throw new NothingToReprintError(txn.id, txn.state);
    return this.enqueue(txn, copy, true);
  }

  private enqueue(txn: Transaction, copy: ReceiptCopy, reprint: boolean): PrintJob {
    const { widthMm } = this.settings;
    const data = receiptForTransaction(txn, { ...this.settings, language: this.language }, copy, reprint);
    // The slip's layout prints the QR code on every slip but a decline's, when it fits the paper.
    if (data.qr !== undefined && data.result !== 'DECLINED' && qrModuleSize(data.qr, widthMm) === undefined) {
      this.logger.warn(
        { transactionId: txn.id, bytes: Buffer.byteLength(data.qr), widthMm },
        'e-receipt QR code left off the slip: too large for the paper',
      );
    }
    return this.queue.enqueue({ kind: reprint ? 'reprint' : 'receipt', slip: slipRecord(data, widthMm), transactionId: txn.id, copy });
  }
}
