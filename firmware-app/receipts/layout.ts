import { EscPosBuilder } from '../../drivers/printer/escpos.js';
import { formatAmount, type CurrencyCode } from '../core/money.js';

export type ReceiptLine =
  | { kind: 'text'; text: string; align?: 'left' | 'center' | 'right'; bold?: boolean; double?: boolean }
  | { kind: 'pair'; left: string; right: string; bold?: boolean }
  | { kind: 'rule' }
  | { kind: 'blank' };

export interface ReceiptData {
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
  result: 'APPROVED' | 'DECLINED';
  declineText?: string;
  offline?: boolean;
  copy: 'MERCHANT COPY' | 'CUSTOMER COPY';
  reprint?: boolean;
}

/** Printable columns at font A. */
export function columnsFor(widthMm: 58 | 80): number {
  return widthMm === 80 ? 48 : 32;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

export function formatDateTime(at: Date): string {
  return `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())} ${pad2(at.getHours())}:${pad2(at.getMinutes())}:${pad2(at.getSeconds())}`;
}

/** Receipts show the last four digits only, never more of the PAN. */
export function maskedForReceipt(last4: string | null): string {
  return last4 ? `**** **** **** ${last4}` : '';
}

/** The receipt as data: what it says, independent of how the printer is driven. */
export function layoutReceipt(d: ReceiptData): ReceiptLine[] {
  const lines: ReceiptLine[] = [
    { kind: 'text', text: d.merchantName, align: 'center', bold: true, double: true },
    { kind: 'pair', left: 'MID', right: d.merchantId },
    { kind: 'pair', left: 'TID', right: d.terminalId },
    { kind: 'pair', left: 'DATE', right: formatDateTime(d.at) },
    { kind: 'rule' },
    { kind: 'text', text: d.type.toUpperCase(), bold: true },
  ];
  if (d.reprint) lines.unshift({ kind: 'text', text: '*** REPRINT ***', align: 'center', bold: true });
  if (d.last4) lines.push({ kind: 'pair', left: 'CARD', right: maskedForReceipt(d.last4) });
  if (d.entryMode) lines.push({ kind: 'pair', left: 'ENTRY', right: d.entryMode });
  lines.push({ kind: 'pair', left: 'AMOUNT', right: `${d.currency} ${formatAmount(d.amount, d.currency)}`, bold: true });
  if (d.stan) lines.push({ kind: 'pair', left: 'STAN', right: d.stan });
  if (d.rrn) lines.push({ kind: 'pair', left: 'RRN', right: d.rrn });
  if (d.authCode) lines.push({ kind: 'pair', left: 'AUTH', right: d.authCode });
  lines.push({ kind: 'rule' });
  if (d.offline) lines.push({ kind: 'text', text: 'OFFLINE', align: 'center', bold: true });
  lines.push({ kind: 'text', text: d.result, align: 'center', bold: true, double: true });
  if (d.declineText) lines.push({ kind: 'text', text: d.declineText, align: 'center' });
  lines.push({ kind: 'blank' }, { kind: 'text', text: d.copy, align: 'center' });
  return lines;
}

function pairText(left: string, right: string, columns: number): string {
  const gap = columns - left.length - right.length;
  return gap >= 1 ? left + ' '.repeat(gap) + right : `${left}\n${right.padStart(columns)}`;
}

/** Renders the receipt to ESC/POS bytes, ending with a cut. */
export function renderReceipt(lines: ReceiptLine[], widthMm: 58 | 80): Buffer {
  const columns = columnsFor(widthMm);
  const b = new EscPosBuilder().init().chinese(true);
  for (const line of lines) {
    switch (line.kind) {
      case 'text':
        b.align(line.align ?? 'left').bold(line.bold ?? false).size(line.double ? 2 : 1, line.double ? 2 : 1).line(line.text);
        b.size(1, 1).bold(false).align('left');
        break;
      case 'pair':
        b.bold(line.bold ?? false).line(pairText(line.left, line.right, columns)).bold(false);
        break;
      case 'rule':
        b.line('-'.repeat(columns));
        break;
      case 'blank':
        b.line('');
        break;
    }
  }
  return b.feed(3).cut('partial').bytes();
}
