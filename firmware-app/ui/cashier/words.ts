import { isPosError } from '../../../drivers/base/errors.js';
import { CURRENCIES, formatAmount, parseAmount, type CurrencyCode } from '../../core/money.js';
import type { DeclineCategory } from '../../declines/catalog.js';
import { formatDateTime } from '../format.js';
import type { StatusSnapshot, TxnView } from '../terminal-port.js';
import { t, type Language } from './strings.js';

/*
 * The words a cashier screen uses for what the journal keeps as names: payment types, states
 * and decline categories. No internal state name reaches a cashier screen.
 */

const TYPE_WORDS: Record<TxnView['type'], Record<Language, string>> = {
  sale: { en: 'sale', 'zh-CN': '消费' },
  refund: { en: 'refund', 'zh-CN': '退货' },
  void: { en: 'void', 'zh-CN': '撤销' },
};

const STATE_WORDS: Record<string, Record<Language, string>> = {
  created: { en: 'in progress', 'zh-CN': '处理中' },
  card_read: { en: 'in progress', 'zh-CN': '处理中' },
  online_sent: { en: 'waiting for the host', 'zh-CN': '等待主机应答' },
  approved: { en: 'approved', 'zh-CN': '成功' },
  declined: { en: 'declined', 'zh-CN': '拒绝' },
  declined_local: { en: 'declined', 'zh-CN': '拒绝' },
  cancelled: { en: 'cancelled', 'zh-CN': '已取消' },
  not_completed: { en: 'not completed', 'zh-CN': '未完成' },
  reversal_pending: { en: 'being reversed', 'zh-CN': '冲正中' },
  reversed: { en: 'reversed', 'zh-CN': '已冲正' },
  offline_approved: { en: 'approved offline', 'zh-CN': '离线成功' },
  forwarded_approved: { en: 'approved offline, sent', 'zh-CN': '离线成功，已上送' },
  forwarded_declined: { en: 'declined by the host after offline approval', 'zh-CN': '离线成功后主机拒绝' },
  expired: { en: 'expired before it could be sent', 'zh-CN': '离线过期未上送' },
  void_pending: { en: 'void in progress', 'zh-CN': '撤销中' },
  voided: { en: 'voided', 'zh-CN': '已撤销' },
};

const CATEGORY_WORDS: Record<DeclineCategory, Record<Language, string>> = {
  card: { en: 'card', 'zh-CN': '卡片' },
  issuer: { en: 'issuer', 'zh-CN': '发卡行' },
  terminal: { en: 'terminal', 'zh-CN': '终端' },
  network: { en: 'network', 'zh-CN': '网络' },
  host: { en: 'host', 'zh-CN': '主机' },
  config: { en: 'set-up', 'zh-CN': '终端设置' },
};

export function typeWord(lang: Language, type: TxnView['type']): string {
  return TYPE_WORDS[type][lang];
}

export function txnStateWord(lang: Language, state: string): string {
  return STATE_WORDS[state]?.[lang] ?? STATE_WORDS.created![lang];
}

export function categoryWord(lang: Language, category: DeclineCategory): string {
  return CATEGORY_WORDS[category][lang];
}

/** Money as the locale writes it: `¥12.34` (`-¥2.00`) in Chinese for yuan, `CNY 12.34` (`CNY -2.00`) otherwise. */
export function money(lang: Language, amount: number, currency: CurrencyCode): string {
  const digits = formatAmount(Math.abs(amount), currency);
  const sign = amount < 0 ? '-' : '';
  return lang === 'zh-CN' && currency === 'CNY' ? `${sign}¥${digits}` : `${currency} ${sign}${digits}`;
}

/** One payment on one line, as the cashier's find, void and refund screens list it. */
export function describeTxn(lang: Language, x: TxnView): string {
  const parts = [
    `#${x.id}`,
    formatDateTime(x.createdAt),
    typeWord(lang, x.type),
    money(lang, x.amount, x.currency),
    txnStateWord(lang, x.state),
    x.last4 ? `****${x.last4}` : '',
    x.authCode ? `${t(lang, 'authCode')} ${x.authCode}` : '',
    x.rrn ? `RRN ${x.rrn}` : '',
  ];
  return parts.filter(Boolean).join('  ');
}

/**
 * Why a payment cannot be voided, in the cashier's language. The lifecycle's reasons are
 * English sentences of a known shape; one of another shape is shown as given.
 */
export function voidRefusal(lang: Language, reason: string): string {
  const isType = /^it is a (sale|refund|void)$/.exec(reason);
  if (isType) return t(lang, 'void-is-type', { type: typeWord(lang, isType[1] as TxnView['type']) });
  const notApproved = /^it is (\w+); only sales approved online can be voided$/.exec(reason);
  if (notApproved) return t(lang, 'void-not-approved', { state: txnStateWord(lang, notApproved[1]!) });
  if (reason === 'its batch is closed') return t(lang, 'void-batch-closed');
  if (reason === 'it has refunds; refund the rest instead') return t(lang, 'void-has-refunds');
  if (reason === 'the host reference is missing') return t(lang, 'void-no-reference');
  return reason;
}

/** Why a sale cannot start now (reader gone, printer out of paper or open), in words; null when it can. */
export function saleBlocked(lang: Language, s: StatusSnapshot): string | null {
  if (s.reader !== 'connected') return t(lang, 'blocked-reader');
  if (s.printer.startsWith('paper out')) return t(lang, 'blocked-paper');
  if (s.printer.startsWith('cover open')) return t(lang, 'blocked-cover');
  return null;
}

/**
 * Why a typed amount was refused, in the cashier's language and in money: never "minor units".
 * The money module's messages have a known shape; another error is shown as it is.
 */
export function amountProblem(lang: Language, err: unknown, text: string, currency: CurrencyCode): string {
  const message = isPosError(err) ? err.message : String(err);
  if (!isPosError(err) || err.code !== 'AMOUNT_INVALID') return message;
  if (/decimal places/.test(message)) return t(lang, 'amount-decimals', { currency, places: String(CURRENCIES[currency].exponent) });
  if (/is not an amount/.test(message)) return t(lang, 'amount-not-number', { text: text.trim().slice(0, 20) });
  if (/positive whole number/.test(message)) return t(lang, 'amount-zero');
  if (err.details.reason === 'AMOUNT_OVER_LIMIT' || /too large/.test(message)) {
    const limit = /limit (\d+(?:\.\d+)?)/.exec(message)?.[1];
    return t(lang, 'amount-over-limit', { limit: limit === undefined ? '' : money(lang, parseAmount(limit, currency), currency) }).trim();
  }
  return message;
}

/**
 * A payment refused before anything was recorded (refund over what is left, an original that
 * cannot be refunded or voided), in the cashier's language and in money; null for other errors.
 */
export function paymentRefusal(lang: Language, err: unknown, currency: CurrencyCode): string | null {
  if (!isPosError(err)) return null;
  const d = err.details;
  const id = String(d.originalId);
  switch (err.code) {
    case 'REFUND_EXCEEDS_ORIGINAL':
      return t(lang, 'refund-exceeds', {
        id,
        requested: money(lang, Number(d.requested), currency),
        refundable: money(lang, Number(d.refundable), currency),
      });
    case 'ORIGINAL_NOT_REFUNDABLE': {
      // "it is a refund" (its type) or "it is declined" (its state).
      const reason = String(d.reason);
      const state = /^it is (\w+)$/.exec(reason)?.[1];
      const text = state ? t(lang, 'refund-not-approved', { state: txnStateWord(lang, state) }) : voidRefusal(lang, reason);
      return t(lang, 'not-refundable', { id, reason: text });
    }
    case 'ORIGINAL_NOT_VOIDABLE':
      return t(lang, 'not-voidable', { id, reason: voidRefusal(lang, String(d.reason)) });
    case 'PAYMENT_IN_PROGRESS':
      return t(lang, 'payment-in-progress');
    default:
      return null;
  }
}
