import { explain } from './catalog.js';

/**
 * What the cashier should do next, in Chinese, for every catalog code: the catalog's
 * `cashierHint` is the English one. Kept beside the catalog and keyed by its codes; a unit
 * test holds the two to the same set of codes, so no Chinese screen falls back to English.
 */
export const CASHIER_HINT_ZH: Readonly<Record<string, string>> = {
  '00': '无需处理。',
  '01': '请顾客换一张卡；本终端不支持电话授权。',
  '03': '请顾客换其他支付方式，并联系维护人员。',
  '04': '请勿重试，按门店规定处理被没收的卡。',
  '05': '请顾客换一张卡。',
  '12': '请勿用此卡重试，请换其他支付方式。',
  '13': '请核对金额后重新收款。',
  '14': '请顾客换一张卡。',
  '30': '可重试一次；如仍失败，请联系维护人员。',
  '41': '请勿重试，按门店规定处理挂失卡。',
  '43': '请勿重试，按门店规定处理被盗卡。',
  '51': '请顾客换一张卡或减少金额。',
  '54': '请顾客换一张卡。',
  '55': '请重新收款，并请顾客重新输入密码。',
  '57': '请顾客换一张卡。',
  '58': '请顾客换其他支付方式，并联系维护人员。',
  '61': '请顾客换一张卡或减少金额。',
  '62': '请顾客换一张卡。',
  '63': '请顾客换一张卡。',
  '65': '请重新收款，并请顾客插卡输入密码。',
  '68': '请一分钟后重试。',
  '75': '请顾客换一张卡。',
  '91': '请一分钟后重试。',
  '94': '重试前请先查询上一笔交易，顾客可能已付款。',
  '95': '结算金额不符，请联系维护人员。',
  '96': '请一分钟后重试。',
  HOST_TIMEOUT: '此笔交易正在冲正；主机确认前，顾客可能看到临时冻结的款项。重试提示说明现在重新收款的结果。',
  VOID_HOST_TIMEOUT: '顾客仍被扣款：请稍后重新撤销，或对该笔消费做退货。',
  HOST_UNREACHABLE: '请稍后重试，或请顾客换其他支付方式。',
  READER_CANCELLED: '如需要，请重新收款。',
  READER_NO_CARD: '请重新收款，并请顾客挥卡或插卡。',
  READER_TIMEOUT: '请重试；如仍失败，请重启读卡器。',
  READER_CARD_READ_FAILED: '请顾客重新插卡或挥卡。',
  READER_DISCONNECTED: '请检查读卡器连线后重试。',
  AMOUNT_OVER_LIMIT: '请分笔收款或换其他支付方式。',
  PAYMENT_INTERRUPTED: '请重新收款；此笔未发往银行。',
  HOST_PROTOCOL: '请作为新交易重新收款；前一笔正在冲正，完成前顾客可能看到临时冻结的款项。如反复出现，请联系维护人员。',
  REVERSAL_FIRST_UNDELIVERED: '此笔未发出。请一分钟后重试，或请顾客换其他支付方式。',
  CASHIER_CANCELLED: '如需要，请重新收款。',
  READER_PIN_TIMEOUT: '请重新收款，并请顾客输入密码。',
  READER_BUSY: '请重试；如仍失败，请重启读卡器。',
  READER_LINK_ERROR: '请重试；如仍失败，请检查读卡器连线。',
  READER_PROTOCOL: '请重试；如仍失败，请联系维护人员。',
  PIN_TRIES_EXCEEDED: '请顾客换一张卡。',
  PIN_REQUIRED: '请重新收款，并请顾客输入密码。',
  OFFLINE_PIN_REQUIRED: '请减少金额 (免密限额内)、换其他支付方式，或等主机恢复。',
  PRINTER_UNAVAILABLE: '请先处理打印机 (纸张、纸仓盖、连线)，再重试。',
  OFFLINE_DISABLED: '请等主机恢复后重试，或请顾客换其他支付方式。',
  OFFLINE_REFUND_NOT_ALLOWED: '请等主机恢复后再做退货。',
  OFFLINE_VOID_NOT_ALLOWED: '请等主机恢复后再做撤销。',
  HOT_LISTED_CARD: '请勿重试，请顾客换其他支付方式。',
  CHIP_DECLINED_AFTER_APPROVAL: '请顾客换一张卡或其他支付方式；批准正在撤回，完成前顾客可能看到临时冻结的款项。',
  CHIP_DECLINED_OFFLINE: '请顾客换一张卡或其他支付方式；未扣款。',
  OFFLINE_ENTRY_MODE: '请顾客插卡或挥卡。',
  OFFLINE_FLOOR_LIMIT: '请减少金额、换其他支付方式，或等主机恢复。',
  OFFLINE_COUNT_LIMIT: '主机恢复前，请顾客换其他支付方式。',
  OFFLINE_AMOUNT_LIMIT: '主机恢复前，请减少金额或换其他支付方式。',
  OFFLINE_QUEUE_TOO_OLD: '请顾客换其他支付方式，并就主机连接联系技术支持。',
};

/** The generic entry's hint, for a code not in the catalog. */
const GENERIC_HINT_ZH = '请顾客换一张卡或其他支付方式。';

/** What the cashier should do next, in the cashier's language; unknown codes read as `explain` reads them. */
export function cashierHint(code: string, lang: 'en' | 'zh-CN'): string {
  const entry = explain(code);
  if (lang === 'en') return entry.cashierHint;
  const key = entry.known ? code : code.startsWith('READER_') ? 'READER_CARD_READ_FAILED' : undefined;
  return key === undefined ? GENERIC_HINT_ZH : (CASHIER_HINT_ZH[key] ?? entry.cashierHint);
}
