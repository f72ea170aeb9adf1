import { EscPosBuilder } from '../../drivers/printer/escpos.js';
import { formatAmount, type CurrencyCode } from '../core/money.js';
import { labelled, wrap } from './width.js';

export type ReceiptLanguage = 'en' | 'zh-CN';
export type ReceiptCopy = 'merchant' | 'customer';
export type ReceiptResult = 'APPROVED' | 'DECLINED' | 'VOIDED';
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
  at: Date;
  type: 'sale' | 'refund' | 'void';
  amount: number;
  currency: CurrencyCode;
  last4: string | null;
  entryMode: string | null;
  authCode: string | null;
  rrn: string | null;
  stan: string | null;
  result: ReceiptResult;
  /** Cashier text from the decline catalog, in `language`; only on declined slips. */
  declineText?: string;
  /** Where the money stands for a payment being or having been reversed (declines/reversal-notice.ts), in `language`. */
  notice?: string;
  /** Approved offline, to be forwarded (store-and-forward): the merchant carries the risk until then. */
  offline?: boolean;
  /** The host approved with the cardholder's PIN: the slip says so, and no signature is asked. */
  pinVerified?: boolean;
  copy: ReceiptCopy;
  reprint?: boolean;
  /** E-receipt reference printed as a QR code. */
  qr?: string;
}

interface Labels {
  mid: string;
  tid: string;
  date: string;
  card: string;
  entry: string;
  amount: string;
  auth: string;
  rrn: string;
  stan: string;
  reason: string;
  type: Record<ReceiptData['type'], string>;
  result: Record<ReceiptResult, string>;
  entryMode: Record<string, string>;
  copy: Record<ReceiptCopy, string>;
  reprint: string;
  offline: string;
  pinVerified: string;
}

/** "REPRINT" and "OFFLINE" stay in English on Chinese slips too: they are what staff and acquirers look for. */
const LABELS: Record<ReceiptLanguage, Labels> = {
  en: {
    mid: 'MID',
    tid: 'TID',
    date: 'DATE',
    card: 'CARD',
    entry: 'ENTRY',
    amount: 'AMOUNT',
    auth: 'AUTH',
    rrn: 'RRN',
    stan: 'STAN',
    reason: 'REASON',
    type: { sale: 'SALE', refund: 'REFUND', void: 'VOID' },
    result: { APPROVED: 'APPROVED', DECLINED: 'DECLINED', VOIDED: 'VOIDED' },
    entryMode: { chip: 'CHIP', contactless: 'CONTACTLESS', swipe: 'SWIPE', manual: 'MANUAL' },
    copy: { merchant: 'MERCHANT COPY', customer: 'CUSTOMER COPY' },
    reprint: '*** REPRINT ***',
    offline: 'OFFLINE',
    pinVerified: 'PIN VERIFIED',
  },
  'zh-CN': {
    mid: '商户号',
    tid: '终端号',
    date: '日期时间',
    card: '卡号',
    entry: '输入方式',
    amount: '金额',
    auth: '授权码',
    rrn: '参考号',
    stan: '流水号',
    reason: '原因',
    type: { sale: '消费', refund: '退货', void: '撤销' },
    result: { APPROVED: '交易成功', DECLINED: '交易失败', VOIDED: '已撤销' },
    entryMode: { chip: '插卡', contactless: '挥卡', swipe: '刷卡', manual: '手输' },
    copy: { merchant: '商户存根', customer: '持卡人存根' },
    reprint: '*** 重打印 REPRINT ***',
    offline: '脱机交易 OFFLINE',
    pinVerified: '密码已验证 PIN VERIFIED',
  },
};

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

/** The receipt as data: what it says, independent of how the printer is driven. */
export function layoutReceipt(d: ReceiptData): ReceiptLine[] {
  const t = LABELS[d.language];
  const lines: ReceiptLine[] = [];
  if (d.reprint) lines.push({ kind: 'text', text: t.reprint, align: 'center', bold: true });
  lines.push(
    { kind: 'text', text: d.merchantName, align: 'center', bold: true, double: true },
    { kind: 'pair', left: t.mid, right: d.merchantId },
    { kind: 'pair', left: t.tid, right: d.terminalId },
    { kind: 'pair', left: t.date, right: formatDateTime(d.at) },
    { kind: 'rule' },
    { kind: 'text', text: t.type[d.type], bold: true, double: true },
  );
  if (d.last4) lines.push({ kind: 'pair', left: t.card, right: maskedForReceipt(d.last4) });
  if (d.entryMode) lines.push({ kind: 'pair', left: t.entry, right: t.entryMode[d.entryMode] ?? d.entryMode.toUpperCase() });
  lines.push({ kind: 'pair', left: t.amount, right: `${d.currency} ${formatAmount(d.amount, d.currency)}`, bold: true });
  if (d.authCode) lines.push({ kind: 'pair', left: t.auth, right: d.authCode });
  if (d.rrn) lines.push({ kind: 'pair', left: t.rrn, right: d.rrn });
  if (d.stan) lines.push({ kind: 'pair', left: t.stan, right: d.stan });
  lines.push({ kind: 'rule' });
  if (d.offline) lines.push({ kind: 'text', text: t.offline, align: 'center', bold: true });
  lines.push({ kind: 'text', text: t.result[d.result], align: 'center', bold: true, double: true });
  if (d.pinVerified && d.result === 'APPROVED') lines.push({ kind: 'text', text: t.pinVerified, align: 'center' });
  if (d.declineText) lines.push({ kind: 'pair', left: t.reason, right: d.declineText });
  if (d.notice) lines.push({ kind: 'text', text: d.notice });
  if (d.qr) lines.push({ kind: 'blank' }, { kind: 'qr', data: d.qr });
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
      case 'qr':
        b.align('center').qr(line.data).line().align('left');
        break;
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
    .flatMap((line) => (line.kind === 'qr' ? [''] : lineTexts(line, widthMm)))
    .map((l) => `${l}\n`)
    .join('');
}
