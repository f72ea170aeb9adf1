import { isTxnState, needsReversal, type TxnType } from '../payments/lifecycle.js';

/**
 * What the cashier and the slip may say about the money of a payment being reversed. Until
 * the host acknowledges the reversal (0410), the customer's bank may still show the amount
 * as held, so nothing may claim "not charged" before that.
 */
export const REVERSAL_NOTICE = {
  pending: {
    en: 'The payment is being reversed; the customer may see a temporary hold',
    'zh-CN': '交易正在冲正，顾客账户可能暂时显示冻结金额',
  },
  acknowledged: { en: 'Reversed - the customer was not charged', 'zh-CN': '已冲正，顾客未被扣款' },
} as const satisfies Record<string, { en: string; 'zh-CN': string }>;

/**
 * The notice for a payment in this state, or undefined when it is not being or has not been
 * reversed. A void being reversed says nothing of the kind: the sale it named stands, and its
 * own decline text says so.
 */
export function reversalNotice(type: TxnType, state: string): { en: string; 'zh-CN': string } | undefined {
  if (type === 'void' || !isTxnState(state)) return undefined;
  if (needsReversal(state)) return REVERSAL_NOTICE.pending;
  if (state === 'reversed') return REVERSAL_NOTICE.acknowledged;
  return undefined;
}
