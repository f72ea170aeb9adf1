import type { EntryMode } from '../../drivers/card-reader/types.js';
import { EscPosBuilder } from '../../drivers/printer/escpos.js';
import { formatAmount, type CurrencyCode } from '../core/money.js';
import { cardBrand } from './card-brand.js';
import { SLIP_LABELS, type ReceiptCopy, type SlipLabels, type ReceiptLanguage, type ReceiptResult, type ReceiptType } from './labels.js';
import { qrModuleSize } from './qr-fit.js';
import { labelled, wrap } from './width.js';

export type { ReceiptCopy, ReceiptLanguage, ReceiptResult } from './labels.js';
export type PaperWidth = 58 | 80;

export type ReceiptLine =
  | { kind: 'text'; text: string; align?: 'left' | 'center' | 'right'; bold?: boolean; double?: boolean }
  | { kind: 'pair'; left: string; right: string; bold?: boolean }
  | { kind: 'qr'; data: string }
  | { kind: 'rule' }
  | { kind: 'blank' };

export interface ReceiptData {
  language: ReceiptLanguage;
  merchantName: string;
  terminalId: string;
  merchantId: string;
  /** Cashier/operator number (操作员号) the payment was taken under, when the journal has one. */
  operator?: string | null;
  at: Date;
  type: ReceiptType;
  amount: number;
  currency: CurrencyCode;
  /** Masked PAN as the reader gave it (BIN + last four): only the scheme is read from it, the slip prints the last four. */
  maskedPan?: string | null;
  last4: string | null;
  entryMode: string | null;
  authCode: string | null;
  rrn: string | null;
  /** Voucher number: the STAN the host knows the payment by. */
  stan: string | null;
  batchNumber?: number | null;
  result: ReceiptResult;
  /** Why it was declined, in `language`: the cashier text on the merchant copy, the customer text on the customer's. */
  declineText?: string;
  /** Where the money stands for a payment being or having been reversed (declines/reversal-notice.ts), in `language`. */
  notice?: string;
  /** Approved offline, to be forwarded (store-and-forward): the merchant carries the risk until then. */
  offline?: boolean;
  /** A refund that names no original sale: the supervisor allowed it, and the slip says so. */
  unreferenced?: boolean;
  /** The cardholder proved themselves with a PIN: no signature is asked for. */
  pinVerified?: boolean;
  copy: ReceiptCopy;
  reprint?: boolean;
  /** E-receipt reference printed as a QR code. */
  qr?: string;
}

/** Printable columns at font A (12 x 24 dots). */
export function columnsFor(widthMm: PaperWidth): number {
  return widthMm === 80 ? 48 : 32;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local time of the terminal, which is what the customer's clock shows. */
export function formatDateTime(at: Date): string {
  return `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())} ${pad2(at.getHours())}:${pad2(at.getMinutes())}:${pad2(at.getSeconds())}`;
}

/** Receipts show the last four digits only, never more of the PAN. */
export function maskedForReceipt(last4: string | null): string {
  return last4 ? `**** **** **** ${last4}` : '';
}

/** The journal holds the reader's word; one the slip has no label for is left off rather than printed raw (it could be English). */
function entryModeLabel(t: SlipLabels, mode: string): string | undefined {
  return Object.hasOwn(t.entryMode, mode) ? t.entryMode[mode as EntryMode] : undefined;
}

/**
 * The amount as the slip prints it: money going back to the card (refund, void) negative;
 * a Chinese slip in yuan shows the full-width ￥ (U+FFE5), which every Chinese printer font has
 * in its double-byte set, where U+00A5 would need a four-byte GB18030 code many fonts lack.
 */
export function slipAmount(d: Pick<ReceiptData, 'amount' | 'currency' | 'type' | 'language'>): string {
  const body = formatAmount(d.amount, d.currency);
  const sign = d.type === 'sale' ? '' : '-';
  if (d.language === 'zh-CN' && d.currency === 'CNY') return `${sign}\uFFE5${body}`;
  return `${d.currency} ${sign}${body}`;
}

/**
 * The receipt as data, in the order of a UnionPay 签购单: who took the payment, the card, the
 * numbers the payment is filed by, the total, the result; on the merchant copy of an approval
 * the cardholder's signature and acknowledgement, unless a PIN was verified.
 */
export function layoutReceipt(d: ReceiptData): ReceiptLine[] {
  const t = SLIP_LABELS[d.language];
  const lines: ReceiptLine[] = [];
  const pair = (left: string, right: string | null | undefined) => {
    if (right) lines.push({ kind: 'pair', left, right });
  };
  if (d.reprint) lines.push({ kind: 'text', text: t.reprint, align: 'center', bold: true });
  lines.push({ kind: 'text', text: d.merchantName, align: 'center', bold: true, double: true });
  pair(t.merchantNo, d.merchantId);
  pair(t.terminalNo, d.terminalId);
  pair(t.operatorNo, d.operator);
  lines.push({ kind: 'rule' });
  const brand = cardBrand(d.maskedPan ?? null);
  pair(t.brand, brand && t.brands[brand]);
  pair(t.cardNo, maskedForReceipt(d.last4));
  pair(t.entry, d.entryMode && entryModeLabel(t, d.entryMode));
  lines.push({ kind: 'text', text: t.type[d.type], bold: true, double: true });
  if (d.unreferenced) lines.push({ kind: 'text', text: t.unreferenced, bold: true });
  pair(t.batchNo, d.batchNumber == null ? null : String(d.batchNumber).padStart(6, '0'));
  pair(t.voucherNo, d.stan);
  pair(t.authNo, d.authCode);
  pair(t.refNo, d.rrn);
  pair(t.dateTime, formatDateTime(d.at));
  lines.push({ kind: 'rule' }, { kind: 'pair', left: t.total, right: slipAmount(d), bold: true }, { kind: 'rule' });
  if (d.offline) lines.push({ kind: 'text', text: t.offline, align: 'center', bold: true });
  lines.push({ kind: 'text', text: t.result[d.result], align: 'center', bold: true, double: true });
  if (d.declineText) lines.push({ kind: 'pair', left: t.reason, right: d.declineText });
  if (d.notice) lines.push({ kind: 'text', text: d.notice });
  // Both copies say a PIN was verified; only the merchant's asks for a signature otherwise.
  if (d.result === 'APPROVED' && d.pinVerified) lines.push({ kind: 'text', text: t.pinVerified });
  else if (d.copy === 'merchant' && d.result === 'APPROVED') {
    lines.push(
      { kind: 'text', text: t.signature },
      { kind: 'blank' },
      { kind: 'blank' },
      { kind: 'rule' },
      { kind: 'text', text: t.acknowledgement },
    );
  }
  if (d.qr && d.result !== 'DECLINED') lines.push({ kind: 'blank' }, { kind: 'qr', data: d.qr });
  lines.push({ kind: 'blank' }, { kind: 'text', text: t.copy[d.copy], align: 'center' });
  if (d.reprint) lines.push({ kind: 'text', text: t.reprint, align: 'center', bold: true });
  return lines;
}

/**
 * The text each line puts on paper, wrapped to the paper's columns (half as many for
 * double-width text). The renderer sends exactly these lines, so this is also what a
 * decoder reading the bytes back must find.
 */
export function lineTexts(line: ReceiptLine, widthMm: PaperWidth): string[] {
  const columns = columnsFor(widthMm);
  switch (line.kind) {
    case 'text':
      return wrap(line.text, line.double ? Math.floor(columns / 2) : columns);
    case 'pair':
      return labelled(line.left, line.right, columns);
    case 'rule':
      return ['-'.repeat(columns)];
    case 'blank':
      return [''];
    case 'qr':
      return [];
  }
}

/** Renders the receipt to ESC/POS bytes, ending with a feed and a partial cut. */
export function renderReceipt(lines: ReceiptLine[], widthMm: PaperWidth): Buffer {
  const b = new EscPosBuilder().init().chinese(true);
  for (const line of lines) {
    const texts = lineTexts(line, widthMm);
    switch (line.kind) {
      case 'text':
        b.align(line.align ?? 'left')
          .bold(line.bold ?? false)
          .size(line.double ? 2 : 1, line.double ? 2 : 1);
        for (const t of texts) b.line(t);
        b.size(1, 1).bold(false).align('left');
        break;
      case 'pair':
        b.bold(line.bold ?? false);
        for (const t of texts) b.line(t);
        b.bold(false);
        break;
      case 'qr': {
        const moduleSize = qrModuleSize(line.data, widthMm);
        if (moduleSize !== undefined) b.align('center').qr(line.data, { moduleSize, ecc: 'M' }).line().align('left');
        break;
      }
      case 'rule':
      case 'blank':
        for (const t of texts) b.line(t);
        break;
    }
  }
  return b.feed(3).cut('partial').bytes();
}

/** The text a receipt puts on paper, line by line, as the printer would show it. */
export function receiptText(lines: ReceiptLine[], widthMm: PaperWidth): string {
  return lines
    .flatMap((line) => (line.kind !== 'qr' ? lineTexts(line, widthMm) : qrModuleSize(line.data, widthMm) === undefined ? [] : ['']))
    .map((l) => `${l}\n`)
    .join('');
}
