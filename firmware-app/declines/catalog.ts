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
  '00': e('issuer', 'never', 'Approved', '交易成功', 'Approved', '交易成功', 'No action needed.', 'Approval code; listed so every code the host can send has an entry.'),
  '01': e('issuer', 'never', 'Refer to card issuer', '请与发卡行联系', 'Please contact your bank', '请联系您的发卡行', 'Ask for another card; this terminal takes no voice referrals.', 'Issuer asked for a voice referral, which the terminal does not support.'),
  '03': e('config', 'fix-then-retry', 'Invalid merchant', '无效商户', 'Payment not accepted at this terminal', '本终端暂无法受理', 'Take another payment method and call your technician.', 'Acquirer does not know terminal.id / terminal.merchantId (fields 41/42); check the set-up with the acquirer.'),
  '04': e('card', 'never', 'Pick up card', '没收卡', 'Declined by your bank', '发卡行拒绝交易', 'Do not retry. Follow store policy for retained cards.', 'Issuer asked for the card to be retained.'),
  '05': e('issuer', 'never', 'Do not honour', '不予承兑', 'Declined by your bank', '发卡行拒绝交易', 'Ask for another card.', 'Issuer refusal; nothing to fix on the terminal.'),
  '12': e('issuer', 'never', 'Invalid transaction', '无效交易', 'Transaction not allowed', '交易不被允许', 'Do not retry this card; take another payment method.', 'Host refused the transaction type, or it was already reversed; check the processing code and reversal history.'),
  '13': e('terminal', 'fix-then-retry', 'Invalid amount', '金额无效', 'Amount not accepted', '金额不被接受', 'Check the amount and ring the sale up again.', 'Host rejected field 4; check terminal.currency and the amount limits agreed with the acquirer.'),
  '14': e('card', 'never', 'Invalid card number', '无效卡号', 'Card not accepted', '卡片不被受理', 'Ask for another card.', 'Issuer does not know the account; nothing to fix on the terminal.'),
  '30': e('terminal', 'fix-then-retry', 'Format error', '报文格式错误', 'Please try again', '请重试', 'Retry once; if it repeats, call your technician.', 'Host could not parse the request or field 48; compare with docs/protocols/host-iso8583.md and check the reader encryption key.'),
  '41': e('card', 'never', 'Lost card', '挂失卡', 'Declined by your bank', '发卡行拒绝交易', 'Do not retry. Follow store policy for lost cards.', 'Issuer reported the card lost.'),
  '43': e('card', 'never', 'Stolen card - keep card if safe', '被窃卡', 'Declined by your bank', '发卡行拒绝交易', 'Do not retry. Follow store policy for stolen cards.', 'Issuer reported the card stolen.'),
  '51': e('issuer', 'later', 'Insufficient funds', '余额不足', 'Insufficient funds', '余额不足', 'Ask for another card or a smaller amount.', 'Issuer refusal; nothing to fix on the terminal.'),
  '54': e('card', 'never', 'Expired card', '卡片已过期', 'Your card has expired', '您的卡已过期', 'Ask for another card.', 'Card expiry passed; nothing to fix on the terminal.'),
  '55': e('card', 'fix-then-retry', 'Incorrect PIN', '密码错误', 'Incorrect PIN - please try again', '密码错误，请重试', 'Ring the sale up again and ask the customer to re-enter the PIN.', 'Issuer rejected the PIN; if every card fails, check the PIN key with the acquirer.'),
  '57': e('issuer', 'never', 'Not permitted to cardholder', '持卡人无权进行此交易', 'Card not allowed for this payment', '此卡不支持该交易', 'Ask for another card.', 'Issuer restriction on the card; nothing to fix on the terminal.'),
  '58': e('config', 'fix-then-retry', 'Not permitted to terminal', '终端无权进行此交易', 'Payment not accepted at this terminal', '本终端暂无法受理', 'Take another payment method and call your technician.', 'Acquirer has not enabled this transaction type for the terminal; check the merchant profile.'),
  '61': e('issuer', 'later', 'Over card amount limit', '超出卡片金额限制', 'Amount over your card limit', '超出卡片限额', 'Ask for another card or a smaller amount.', 'Issuer amount limit; nothing to fix on the terminal.'),
  '62': e('card', 'later', 'Restricted card', '受限制的卡', 'Card not accepted here', '此卡在此不受理', 'Ask for another card.', 'Issuer restricts the card (region or merchant type); nothing to fix on the terminal.'),
  '63': e('issuer', 'never', 'Security violation', '违反安全规定', 'Declined by your bank', '发卡行拒绝交易', 'Ask for another card.', 'Issuer reported a security violation; if it happens across cards, check keys with the acquirer.'),
  '65': e('issuer', 'later', 'Usage limit - insert card, PIN', '超出次数限制，请插卡输密码', 'Please insert your card and enter your PIN', '请插卡并输入密码', 'Ring the sale up again and ask the customer to insert the card and enter the PIN.', 'Issuer frequency limit or a strong-authentication request after contactless; nothing to fix on the terminal.'),
  '68': e('network', 'later', 'Response received too late', '发卡行响应超时', 'Please try again shortly', '请稍后重试', 'Retry in a minute.', 'The issuer answered the switch too late; check acquirer status.'),
  '75': e('card', 'later', 'PIN tries exceeded', '密码错误次数超限', 'PIN tries exceeded - contact your bank', '密码错误次数超限，请联系发卡行', 'Ask for another card.', 'Issuer blocked the PIN; nothing to fix on the terminal.'),
  '91': e('network', 'later', 'Issuer unavailable', '发卡行不可用', 'Please try again shortly', '请稍后重试', 'Retry in a minute.', 'Issuer or switch down; check acquirer status.'),
  '94': e('host', 'never', 'Duplicate transmission', '重复交易', 'Please wait', '请稍候', 'Check the last sale before retrying; the customer may already have paid.', 'Host saw this STAN twice; check the STAN counter and the clock (fields 11, 12, 13).'),
  '95': e('host', 'later', 'Reconciliation error', '对账不平', 'Please try again shortly', '请稍后重试', 'Settlement totals differ; call your technician.', 'Settlement totals (field 63) differ from the host; compare the batch with the acquirer report.'),
  '96': e('host', 'later', 'System malfunction', '系统故障', 'Please try again shortly', '请稍后重试', 'Retry in a minute.', 'Acquirer reported a system error; check host status and logs.'),
  // Local reasons: decided on the terminal, named after the typed error or rule that ends the payment.
  HOST_TIMEOUT: e('network', 'later', 'Host timeout, transaction reversed - retry', '主机超时，交易已冲正，请重试', 'Not charged - please try again', '未扣款，请重试', 'Retry the sale; the customer was not charged.', 'No 0210 within host.responseTimeoutMs; check link latency and host health. A reversal was queued.'),
  HOST_UNREACHABLE: e('network', 'later', 'Host unreachable', '无法连接主机', 'Please try again shortly', '请稍后重试', 'Retry shortly or take another payment method.', 'No TCP connection to the acquirer; check network and host.address/port.'),
  READER_CANCELLED: e('terminal', 'fix-then-retry', 'Cancelled', '已取消', 'Cancelled', '已取消', 'Start the sale again if needed.', 'Cancelled on the reader or by the cashier.'),
  READER_NO_CARD: e('terminal', 'fix-then-retry', 'No card presented', '未读到卡片', 'Please present your card', '请出示您的卡片', 'Start again and ask the customer to tap or insert.', 'The reader waited its READ timeout and no card came.'),
  READER_TIMEOUT: e('terminal', 'later', 'Card reader not responding', '读卡器无响应', 'Please wait', '请稍候', 'Retry; if it repeats, restart the reader.', 'The reader did not answer a command within reader.commandTimeoutMs; check cable, power and baud rate.'),
  READER_CARD_READ_FAILED: e('card', 'fix-then-retry', 'Card read failed', '读卡失败', 'Card could not be read', '无法读取卡片', 'Ask the customer to insert the chip or tap again.', 'Reader could not read the card; if frequent, clean or replace the reader.'),
  READER_DISCONNECTED: e('terminal', 'later', 'Card reader disconnected', '读卡器未连接', 'Please wait', '请稍候', 'Check the reader cable, then retry.', 'Reader port lost; check USB/serial cable and reader.path.'),
  AMOUNT_OVER_LIMIT: e('config', 'fix-then-retry', 'Amount over terminal limit', '金额超过终端限额', 'Amount not accepted', '金额不被接受', 'Split the payment or use another method.', 'terminal.maxAmount is lower than this amount.'),
  PAYMENT_INTERRUPTED: e('terminal', 'later', 'Payment interrupted - not charged', '交易中断，未扣款', 'Not charged - please try again', '未扣款，请重试', 'Ring the payment up again; nothing was sent to the bank.', 'The process stopped after the card was read but before anything was sent to the host; closed at recovery.'),
  HOST_PROTOCOL: e('host', 'later', 'Host answer unusable', '主机响应异常', 'Please try again shortly', '请稍后重试', 'Retry; if it repeats, call your technician.', 'The host answered with a message the terminal cannot use; collect the log and compare with docs/protocols/host-iso8583.md.'),
  CASHIER_CANCELLED: e('terminal', 'fix-then-retry', 'Cancelled by cashier', '收银员已取消', 'Cancelled', '已取消', 'Start the sale again if needed.', 'The cashier cancelled the sale before authorisation.'),
  READER_PIN_TIMEOUT: e('card', 'fix-then-retry', 'No PIN entered', '未输入密码', 'PIN entry timed out', '密码输入超时', 'Ring the sale up again and ask the customer to enter the PIN.', 'The reader waited its PIN timeout and no PIN came.'),
  READER_BUSY: e('terminal', 'later', 'Card reader busy', '读卡器忙', 'Please wait', '请稍候', 'Retry; if it repeats, restart the reader.', 'The reader refused a command while a READ or PIN was running; the terminal sends CANCEL before the next try.'),
  READER_LINK_ERROR: e('terminal', 'later', 'Card read failed (reader link)', '读卡失败（读卡器通讯故障）', 'Card could not be read', '无法读取卡片', 'Retry; if it repeats, check the reader cable.', 'Frames kept arriving damaged after every retransmission; check cable, grounding and baud rate.'),
  READER_PROTOCOL: e('terminal', 'later', 'Card read failed (reader error)', '读卡失败（读卡器异常）', 'Card could not be read', '无法读取卡片', 'Retry; if it repeats, call your technician.', 'The reader broke docs/protocols/card-reader.md (sections 6-7); check its firmware.'),
  PIN_TRIES_EXCEEDED: e('card', 'never', 'PIN tries exceeded on card', '卡片密码错误次数超限', 'PIN tries exceeded - contact your bank', '密码错误次数超限，请联系发卡行', 'Ask for another card.', 'The chip blocked offline PIN entry; the card must be unblocked by its issuer.'),
  PRINTER_UNAVAILABLE: e('terminal', 'fix-then-retry', 'Printer unavailable', '打印机不可用', 'Please wait', '请稍候', 'Fix the printer (paper, cover, cable), then retry.', 'The transaction needs a printed slip and the printer is not ready; check printer status in the diagnostic menu.'),
  OFFLINE_DISABLED: e('config', 'later', 'Host unreachable, offline payments off', '无法连接主机，未开启离线交易', 'Please try again shortly', '请稍后重试', 'Retry when the host is back or take another payment method.', 'offline.enabled is false; payments need the host.'),
  OFFLINE_REFUND_NOT_ALLOWED: e('network', 'later', 'Refunds need the host - retry when online', '退货需联机，请恢复连接后重试', 'Please try again shortly', '请稍后重试', 'Retry the refund when the host is back.', 'Refunds are online only; check the host link.'),
  OFFLINE_VOID_NOT_ALLOWED: e('network', 'later', 'Voids need the host - retry when online', '撤销需联机，请恢复连接后重试', 'Please try again shortly', '请稍后重试', 'Retry the void when the host is back.', 'Voids are online only; check the host link.'),
  HOT_LISTED_CARD: e('card', 'never', 'Card not accepted (hot list)', '此卡在黑名单中', 'Card not accepted', '此卡不被接受', 'Do not retry. Ask for another payment method.', 'The card PAN token is in offline.hotListedTokens.'),
  OFFLINE_ENTRY_MODE: e('card', 'fix-then-retry', 'Offline: insert or tap the card', '离线时请插卡或挥卡', 'Please insert or tap your card', '请插卡或挥卡', 'Ask the customer to insert the chip or tap.', 'Entry mode not in offline.entryModes.'),
  OFFLINE_FLOOR_LIMIT: e('config', 'later', 'Offline: amount over floor limit', '离线：金额超过限额', 'Amount not accepted offline', '离线时金额不被接受', 'Take a smaller amount, another payment method, or wait for the host.', 'Amount above offline.floorLimit while the host is unreachable.'),
  OFFLINE_COUNT_LIMIT: e('config', 'later', 'Offline: too many payments queued', '离线：排队交易笔数已满', 'Please try again shortly', '请稍后重试', 'Take another payment method until the host is back.', 'The SAF queue holds offline.maxCount payments; restore the host link so it drains.'),
  OFFLINE_AMOUNT_LIMIT: e('config', 'later', 'Offline: total offline amount reached', '离线：累计金额已达上限', 'Please try again shortly', '请稍后重试', 'Take a smaller amount or another payment method until the host is back.', 'Queued offline amount would exceed offline.maxTotalAmount; restore the host link so it drains.'),
  OFFLINE_QUEUE_TOO_OLD: e('network', 'later', 'Offline too long - host needed', '离线时间过长，需联机', 'Please try again shortly', '请稍后重试', 'Take another payment method; call support about the host link.', 'The oldest queued offline payment is older than offline.maxAgeMs; restore the host link.'),
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

export const DECLINE_CATEGORIES: readonly DeclineCategory[] = ['card', 'issuer', 'terminal', 'network', 'host', 'config'];
export const RETRY_CLASSES: readonly RetryClass[] = ['never', 'later', 'fix-then-retry'];

/** Field-39 codes are two characters; everything else in the catalog is a local reason. */
export const isHostCode = (code: string): boolean => /^[0-9A-Z]{2}$/.test(code);

/**
 * Looks a code up; unknown codes get the safe generic entry with `known: false`, which the
 * statistics and the upstream decline event count. An unknown reader ERR code
 * (`READER_<code>`) reads like a failed card read, as docs/protocols/card-reader.md section 8
 * prescribes, but still counts as unknown.
 */
export function explain(code: string): DeclineEntry & { known: boolean } {
  const entry = Object.hasOwn(CATALOG, code) ? CATALOG[code] : undefined;
  if (entry) return { code, known: true, ...entry };
  const fallback = code.startsWith('READER_') ? CATALOG.READER_CARD_READ_FAILED ?? GENERIC_DECLINE : GENERIC_DECLINE;
  return { code, known: false, ...fallback };
}
