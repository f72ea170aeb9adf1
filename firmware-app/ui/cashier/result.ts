import { explain } from '../../declines/catalog.js';
import { cashierHint } from '../../declines/cashier-hints-zh.js';
import { reversalNotice } from '../../declines/reversal-notice.js';
import type { PaymentResult } from '../terminal-port.js';
import { ansi, type Tty } from '../tty.js';
import { t, type Language } from './strings.js';
import { categoryWord, money } from './words.js';

/*
 * A payment's result as the cashier and the customer see it. The words do not lie: DECLINED
 * only for a refusal by the card, the issuer, the host or an offline rule; a device fault
 * where nothing was charged is NOT COMPLETED, a cancel is CANCELLED.
 */

/** The decline explained: what happened, its code with its category, what to do, what to tell the customer. */
export function explainDecline(tty: Tty, lang: Language, code: string, word: 'declined' | 'notCompleted' = 'declined'): void {
  const entry = explain(code);
  tty.line(ansi.bold(`${t(lang, word)}: ${entry.cashier[lang]}`));
  tty.line(`${t(lang, 'code')}: ${code}  (${t(lang, 'category')}: ${categoryWord(lang, entry.category)})`);
  tty.line(`${t(lang, 'whatToDo')}: ${cashierHint(code, lang)}`);
  tty.line(`${t(lang, 'tellCustomer')}: ${entry.customer[lang]}`);
}

export function showResult(tty: Tty, lang: Language, r: PaymentResult): void {
  const x = r.transaction;
  if (r.approved) {
    const refs = `${x.authCode ? ` ${t(lang, 'authCode')} ${x.authCode}` : ''}${x.rrn ? ` RRN ${x.rrn}` : ''}${x.stan ? ` STAN ${x.stan}` : ''}`;
    const label = x.type === 'void' ? t(lang, 'voided') : x.type === 'refund' ? t(lang, 'refundApproved') : t(lang, 'approved');
    tty.line(ansi.bold(`${label}${r.offline ? ` ${t(lang, 'offline')}` : ''}${refs} (${t(lang, 'transaction')} ${x.id})`));
  } else if (r.cancelled) {
    tty.line(ansi.bold(`${t(lang, 'cancelled')}: ${explain(r.code ?? '').cashier[lang]}`));
  } else if (r.notCompleted) {
    explainDecline(tty, lang, r.code ?? x.declineCode ?? '', 'notCompleted');
    tty.line(ansi.bold(t(lang, 'notCharged')));
  } else {
    explainDecline(tty, lang, r.code ?? x.declineCode ?? '');
    const notice = reversalNotice(x.type, x.state);
    if (notice) tty.line(ansi.bold(notice[lang]));
    if (r.retry) tty.line(ansi.bold(t(lang, `retry-${r.retry}`)));
  }
  if (r.printed) tty.line(t(lang, 'receiptPrinted'));
  else if (r.printError) tty.line(`${t(lang, 'receiptNotPrinted')}: ${r.printError}`);
}

/** The two lines the customer display shows for a result. */
export function customerLines(lang: Language, r: PaymentResult): [string, string] {
  const x = r.transaction;
  if (r.approved) return [t(lang, 'customer-approved'), money(lang, x.amount, x.currency)];
  if (r.cancelled) return [t(lang, 'customer-cancelled'), money(lang, x.amount, x.currency)];
  if (r.notCompleted) return [t(lang, 'customer-not-completed'), t(lang, 'customer-not-charged')];
  return [t(lang, 'customer-declined'), explain(r.code ?? x.declineCode ?? '').customer[lang]];
}
