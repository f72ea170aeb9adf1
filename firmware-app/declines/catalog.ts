/**
 * The decline catalog: one table of data that every screen, slip, journal entry and
 * upstream report reads from. Codes are ISO 8583 field-39 values or local reason names.
 */
export type DeclineCategory = 'card' | 'issuer' | 'terminal' | 'network' | 'host' | 'config';
export type RetryClass = 'never' | 'later' | 'fix-then-retry';

export interface DeclineEntry {
  code: string;
  category: DeclineCategory;
  cashier: { en: string; 'zh-CN': string };
  customer: { en: string; 'zh-CN': string };
  retry: RetryClass;
  cashierHint: string;
  technicianHint: string;
}

type Entry = Omit<DeclineEntry, 'code'>;

const e = (
  category: DeclineCategory,
  retry: RetryClass,
  en: string,
  zh: string,
  customerEn: string,
  customerZh: string,
  cashierHint: string,
  technicianHint: string,
): Entry => ({ category, retry, cashier: { en, 'zh-CN': zh }, customer: { en: customerEn, 'zh-CN': customerZh }, cashierHint, technicianHint });

export const CATALOG: Readonly<Record<string, Entry>> = {
  '05': e('issuer', 'never', 'Do not honour', '不予承兑', 'Declined by your bank', '发卡行拒绝交易', 'Ask for another card.', 'Issuer refusal; nothing to fix on the terminal.'),
  '51': e('issuer', 'later', 'Insufficient funds', '余额不足', 'Insufficient funds', '余额不足', 'Ask for another card or a smaller amount.', 'Issuer refusal; nothing to fix on the terminal.'),
  '54': e('card', 'never', 'Expired card', '卡片已过期', 'Your card has expired', '您的卡已过期', 'Ask for another card.', 'Card expiry passed; nothing to fix on the terminal.'),
  '43': e('card', 'never', 'Stolen card - keep card if safe', '被窃卡', 'Declined by your bank', '发卡行拒绝交易', 'Do not retry. Follow store policy for stolen cards.', 'Issuer reported the card stolen.'),
  '91': e('network', 'later', 'Issuer unavailable', '发卡行不可用', 'Please try again shortly', '请稍后重试', 'Retry in a minute.', 'Issuer or switch down; check acquirer status.'),
  '96': e('host', 'later', 'System malfunction', '系统故障', 'Please try again shortly', '请稍后重试', 'Retry in a minute.', 'Acquirer reported a system error; check host status and logs.'),
  HOST_TIMEOUT: e('network', 'later', 'Host timeout, transaction reversed - retry', '主机超时，交易已冲正，请重试', 'Not charged - please try again', '未扣款，请重试', 'Retry the sale; the customer was not charged.', 'No 0210 within host.responseTimeoutMs; check link latency and host health. A reversal was queued.'),
  HOST_UNREACHABLE: e('network', 'later', 'Host unreachable', '无法连接主机', 'Please try again shortly', '请稍后重试', 'Retry shortly or take another payment method.', 'No TCP connection to the acquirer; check network and host.address/port.'),
  READER_CANCELLED: e('terminal', 'fix-then-retry', 'Cancelled', '已取消', 'Cancelled', '已取消', 'Start the sale again if needed.', 'Cancelled on the reader or by the cashier.'),
  READER_NO_CARD: e('terminal', 'fix-then-retry', 'No card presented', '未读到卡片', 'Please present your card', '请出示您的卡片', 'Start again and ask the customer to tap or insert.', 'The reader waited its READ timeout and no card came.'),
  READER_TIMEOUT: e('terminal', 'later', 'Card reader not responding', '读卡器无响应', 'Please wait', '请稍候', 'Retry; if it repeats, restart the reader.', 'The reader did not answer a command within reader.commandTimeoutMs; check cable, power and baud rate.'),
  READER_CARD_READ_FAILED: e('card', 'fix-then-retry', 'Card read failed', '读卡失败', 'Card could not be read', '无法读取卡片', 'Ask the customer to insert the chip or tap again.', 'Reader could not read the card; if frequent, clean or replace the reader.'),
  READER_DISCONNECTED: e('terminal', 'later', 'Card reader disconnected', '读卡器未连接', 'Please wait', '请稍候', 'Check the reader cable, then retry.', 'Reader port lost; check USB/serial cable and reader.path.'),
  AMOUNT_OVER_LIMIT: e('config', 'fix-then-retry', 'Amount over terminal limit', '金额超过终端限额', 'Amount not accepted', '金额不被接受', 'Split the payment or use another method.', 'terminal.maxAmount is lower than this amount.'),
};

export const GENERIC_DECLINE: Entry = e(
  'issuer',
  'never',
  'Declined',
  '交易被拒绝',
  'Declined',
  '交易被拒绝',
  'Ask for another card or payment method.',
  'Code not in the catalog; report it so it can be added.',
);

/** Looks a code up; unknown codes get the safe generic entry (callers count them). */
export function explain(code: string): DeclineEntry & { known: boolean } {
  const entry = CATALOG[code];
  return entry ? { code, known: true, ...entry } : { code, known: false, ...GENERIC_DECLINE };
}
