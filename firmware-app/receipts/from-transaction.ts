import { explain } from '../declines/catalog.js';
import { isOfflineApproval, receiptResult, type TxnState } from '../payments/lifecycle.js';
import type { Transaction } from '../payments/journal.js';
import type { ReceiptCopy, ReceiptData, ReceiptLanguage, ReceiptResult } from './layout.js';
import { reversalNotice } from '../declines/reversal-notice.js';

/** What a receipt needs besides the transaction: who the merchant is and how to print. */
export interface ReceiptContext {
  language: ReceiptLanguage;
  merchantName: string;
  terminalId: string;
  merchantId: string;
  /** Prefix of the e-receipt link; the transaction's uuid is appended. Empty: no QR code. */
  eReceiptUrl: string;
}

/** What the slip says: the transaction as the journal knows it now. */
export function resultOf(state: TxnState): ReceiptResult {
  return receiptResult(state);
}

/**
 * The reason a decline slip gives: the customer copy carries the catalog's customer text (a
 * stolen-card decline must not tell the cardholder what the cashier is told), the merchant
 * copy the cashier text.
 */
function declineText(code: string, copy: ReceiptCopy, language: ReceiptLanguage): string {
  const entry = explain(code);
  return (copy === 'customer' ? entry.customer : entry.cashier)[language];
}

export function receiptForTransaction(txn: Transaction, ctx: ReceiptContext, copy: ReceiptCopy, reprint = false): ReceiptData {
  const result = resultOf(txn.state);
  const reasonCode = txn.declineCode ?? txn.responseCode;
  return {
    language: ctx.language,
    merchantName: ctx.merchantName,
    terminalId: ctx.terminalId,
    merchantId: ctx.merchantId,
    operator: txn.operator ?? null,
    at: new Date(txn.updatedAt),
    type: txn.type,
    amount: txn.amount,
    currency: txn.currency,
    maskedPan: txn.maskedPan,
    last4: txn.last4,
    entryMode: txn.entryMode,
    authCode: txn.authCode,
    rrn: txn.rrn,
    stan: txn.stan,
    batchNumber: txn.batchNumber,
    result,
    declineText: result === 'DECLINED' && reasonCode ? declineText(reasonCode, copy, ctx.language) : undefined,
    notice: reversalNotice(txn.type, txn.state)?.[ctx.language],
    offline: isOfflineApproval(txn.state),
    unreferenced: txn.type === 'refund' && txn.originalId === null,
    pinVerified: txn.pinVerified,
    copy,
    reprint,
    // The e-receipt is a record of a payment; a decline has none to show.
    qr: ctx.eReceiptUrl && result !== 'DECLINED' ? `${ctx.eReceiptUrl}${txn.uuid}` : undefined,
  };
}
