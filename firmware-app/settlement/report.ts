import { formatAmount, type CurrencyCode } from '../core/money.js';
import { formatDateTime, renderReceipt, type ReceiptLine } from '../receipts/layout.js';
import { batchLabel, type SettlementResult } from './batch-label.js';
import type { BatchTotals, Tally } from './totals.js';

export interface SettlementReportData {
  merchantName: string;
  terminalId: string;
  merchantId: string;
  batchNumber: number;
  at: Date;
  totals: BatchTotals;
  result: SettlementResult;
  /** Field 39 of the 0510. */
  responseCode: string;
}

function tallyLine(label: string, t: Tally, currency: CurrencyCode): ReceiptLine {
  return { kind: 'pair', left: `${label} x${t.count}`, right: formatAmount(t.amount, currency) };
}

/**
 * The end-of-day report as data. It carries counts and amounts only: no card, no STAN
 * list, nothing a reprint could leak.
 */
export function layoutSettlementReport(d: SettlementReportData): ReceiptLine[] {
  const lines: ReceiptLine[] = [
    { kind: 'text', text: 'SETTLEMENT', align: 'center', bold: true, double: true },
    { kind: 'text', text: d.merchantName, align: 'center' },
    { kind: 'pair', left: 'MID', right: d.merchantId },
    { kind: 'pair', left: 'TID', right: d.terminalId },
    { kind: 'pair', left: 'BATCH', right: batchLabel(d.batchNumber) },
    { kind: 'pair', left: 'DATE', right: formatDateTime(d.at) },
  ];
  const currencies = Object.keys(d.totals.byCurrency) as CurrencyCode[];
  if (currencies.length === 0) lines.push({ kind: 'rule' }, { kind: 'text', text: 'NO TRANSACTIONS', align: 'center' });
  for (const currency of currencies) {
    const c = d.totals.byCurrency[currency]!;
    lines.push(
      { kind: 'rule' },
      { kind: 'text', text: `CURRENCY ${currency}`, bold: true },
      tallyLine('SALES', c.sales, currency),
      tallyLine(' OFFLINE', c.offlineSales, currency),
      tallyLine('REFUNDS', c.refunds, currency),
      tallyLine('VOIDS', c.voids, currency),
      { kind: 'pair', left: 'NET', right: `${currency} ${formatAmount(c.sales.amount - c.refunds.amount, currency)}`, bold: true },
    );
  }
  lines.push({ kind: 'rule' });
  if (d.result === 'in_balance') {
    lines.push(
      { kind: 'text', text: 'IN BALANCE', align: 'center', bold: true, double: true },
      { kind: 'text', text: 'BATCH CLOSED', align: 'center' },
    );
  } else {
    lines.push(
      { kind: 'text', text: 'OUT OF BALANCE', align: 'center', bold: true, double: true },
      { kind: 'text', text: 'HOST TOTALS DIFFER', align: 'center' },
      { kind: 'text', text: 'BATCH KEPT OPEN - CALL SUPPORT', align: 'center' },
    );
  }
  lines.push({ kind: 'pair', left: 'HOST RESPONSE', right: d.responseCode });
  return lines;
}

/** ESC/POS bytes of the report, through the same renderer as receipts. */
export function renderSettlementReport(d: SettlementReportData, widthMm: 58 | 80): Buffer {
  return renderReceipt(layoutSettlementReport(d), widthMm);
}
