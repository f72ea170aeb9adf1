import type { CurrencyCode } from '../../core/money.js';
import { formatDateTime } from '../format.js';
import type { BatchReports, TallyView } from '../terminal-port.js';
import { ansi, type Tty } from '../tty.js';
import { t, type Language } from './strings.js';
import { money } from './words.js';

/*
 * The batch reports at the console: the X report (the open batch so far; it closes nothing)
 * and the last settlement, which says when it was a catch-up and which business day it closed.
 */

const row = (label: string, count: number, amount: string) => `  ${label.padEnd(10)} ${String(count).padStart(5)}  ${amount.padStart(16)}`;

export function showXReport(tty: Tty, lang: Language, currency: CurrencyCode, r: BatchReports['current']): void {
  const line = (label: string, x: TallyView, sign = 1) => tty.line(row(label, x.count, money(lang, sign * x.amount, currency)));
  const batch = String(r.batchNumber).padStart(6, '0');
  tty.line(`${t(lang, 'batch', { batch })}, ${t(lang, 'openedAt', { at: formatDateTime(r.openedAt) })}`);
  tty.line();
  line(t(lang, 'sales'), r.sales);
  line(t(lang, 'refunds'), r.refunds, -1);
  line(t(lang, 'voids'), r.voids);
  tty.line(ansi.bold(row(t(lang, 'net'), r.sales.count + r.refunds.count, money(lang, r.sales.amount - r.refunds.amount, currency))));
  tty.line();
  if (r.offlinePending > 0) tty.line(t(lang, 'offlinePending', { count: String(r.offlinePending) }));
  if (r.undecided > 0) tty.line(t(lang, 'undecided', { count: String(r.undecided) }));
  tty.line(t(lang, 'xReportNote'));
}

export function showLastSettlement(tty: Tty, lang: Language, currency: CurrencyCode, last: BatchReports['last']): void {
  if (!last) {
    tty.line(t(lang, 'noSettlement'));
    return;
  }
  const batch = String(last.batchNumber).padStart(6, '0');
  const closed = last.closedAt === null ? '' : `, ${t(lang, 'closedAt', { at: formatDateTime(last.closedAt) })}`;
  tty.line(`${t(lang, 'batch', { batch })}${closed}`);
  if (last.catchUpFor !== null) tty.line(ansi.bold(t(lang, 'catchUp', { day: formatDateTime(last.catchUpFor).slice(0, 10) })));
  tty.line();
  if (last.totals) {
    const x = last.totals;
    tty.line(row(t(lang, 'sales'), x.salesCount, money(lang, x.salesAmount, currency)));
    tty.line(row(t(lang, 'refunds'), x.refundsCount, money(lang, -x.refundsAmount, currency)));
    tty.line(ansi.bold(row(t(lang, 'net'), x.salesCount + x.refundsCount, money(lang, x.salesAmount - x.refundsAmount, currency))));
    tty.line();
  }
  tty.line(ansi.bold(last.inBalance ? t(lang, 'inBalance') : t(lang, 'outOfBalance')));
}
