import type { EntryMode } from '../../drivers/card-reader/types.js';
import type { CardBrand } from './card-brand.js';

export type ReceiptLanguage = 'en' | 'zh-CN';
export type ReceiptCopy = 'merchant' | 'customer';
export type ReceiptResult = 'APPROVED' | 'DECLINED' | 'VOIDED';
export type ReceiptType = 'sale' | 'refund' | 'void';

/** Every word a slip prints, per language: the receipt part of the terminal's catalog. */
export interface SlipLabels {
  merchantNo: string;
  terminalNo: string;
  operatorNo: string;
  brand: string;
  cardNo: string;
  entry: string;
  batchNo: string;
  voucherNo: string;
  authNo: string;
  refNo: string;
  dateTime: string;
  total: string;
  reason: string;
  type: Record<ReceiptType, string>;
  result: Record<ReceiptResult, string>;
  /** Keyed by the reader's entry mode, as the journal stores it. */
  entryMode: Record<EntryMode, string>;
  brands: Record<CardBrand, string>;
  copy: Record<ReceiptCopy, string>;
  reprint: string;
  offline: string;
  unreferenced: string;
  signature: string;
  acknowledgement: string;
  pinVerified: string;
}

/**
 * English follows the wording of bilingual UnionPay slips (MERCHANT NO., VOUCHER NO.,
 * REF NO.); Chinese is what a 签购单 prints, with no English word: a Chinese slip is read
 * by staff and customers who may read no English, and an acquirer files it by its numbers.
 */
export const SLIP_LABELS: Record<ReceiptLanguage, SlipLabels> = {
  en: {
    merchantNo: 'MERCHANT NO.',
    terminalNo: 'TERMINAL NO.',
    operatorNo: 'OPERATOR NO.',
    brand: 'CARD TYPE',
    cardNo: 'CARD NO.',
    entry: 'ENTRY MODE',
    batchNo: 'BATCH NO.',
    voucherNo: 'VOUCHER NO.',
    authNo: 'AUTH NO.',
    refNo: 'REF NO.',
    dateTime: 'DATE/TIME',
    total: 'TOTAL',
    reason: 'REASON',
    type: { sale: 'SALE', refund: 'REFUND', void: 'VOID' },
    result: { APPROVED: 'APPROVED', DECLINED: 'DECLINED', VOIDED: 'VOIDED' },
    entryMode: { CHIP: 'CHIP', CTLS: 'CONTACTLESS', SWIPE: 'SWIPE', MANUAL: 'MANUAL' },
    brands: { unionpay: 'UNIONPAY', visa: 'VISA', mastercard: 'MASTERCARD', amex: 'AMEX', jcb: 'JCB' },
    copy: { merchant: 'MERCHANT COPY', customer: 'CUSTOMER COPY' },
    reprint: '*** REPRINT ***',
    offline: 'OFFLINE',
    unreferenced: 'REFUND WITHOUT ORIGINAL SALE',
    signature: 'CARDHOLDER SIGNATURE',
    acknowledgement: 'I ACKNOWLEDGE SATISFACTORY RECEIPT OF RELATIVE GOODS/SERVICES',
    pinVerified: 'PIN VERIFIED - NO SIGNATURE REQUIRED',
  },
  'zh-CN': {
    merchantNo: '商户编号',
    terminalNo: '终端编号',
    operatorNo: '操作员号',
    brand: '卡组织',
    cardNo: '卡号',
    entry: '输入方式',
    batchNo: '批次号',
    voucherNo: '凭证号',
    authNo: '授权码',
    refNo: '参考号',
    dateTime: '日期/时间',
    total: '金额',
    reason: '原因',
    type: { sale: '消费', refund: '退货', void: '消费撤销' },
    result: { APPROVED: '交易成功', DECLINED: '交易失败', VOIDED: '已撤销' },
    entryMode: { CHIP: '芯片', CTLS: '闪付', SWIPE: '磁条', MANUAL: '手输' },
    // JCB has no Chinese name in use; its three letters are read as a scheme code, like a currency code.
    brands: { unionpay: '银联', visa: '维萨', mastercard: '万事达', amex: '美国运通', jcb: 'JCB' },
    copy: { merchant: '商户存根', customer: '持卡人存根' },
    reprint: '*** 重打印 ***',
    offline: '脱机交易',
    unreferenced: '无原交易退货',
    signature: '持卡人签名',
    // Broken at the comma, where a 58 mm line (16 characters) would otherwise cut a word.
    acknowledgement: '本人确认以上交易，\n同意将其记入本卡账户',
    pinVerified: '密码已验证，免签名',
  },
};
