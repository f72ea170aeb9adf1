import { describe, expect, it } from 'vitest';
import { AmountError } from '../../firmware-app/core/money.js';
import { NotRefundableError, NotVoidableError, RefundExceedsOriginalError } from '../../firmware-app/payments/errors.js';
import { amountProblem, paymentRefusal, voidRefusal } from '../../firmware-app/ui/cashier/words.js';

describe('cashier words for refusals', () => {
  it('says a refund over what is left in money, never in minor units, in both languages', () => {
    const err = new RefundExceedsOriginalError(4, 500, 300);
    expect(paymentRefusal('en', err, 'CNY')).toBe('refund CNY 5.00 is more than the CNY 3.00 still refundable on #4');
    expect(paymentRefusal('zh-CN', err, 'CNY')).toBe('退货金额 ¥5.00 超过交易 #4 可退余额 ¥3.00');
  });

  it('names why an original cannot be refunded or voided with states in words', () => {
    expect(paymentRefusal('en', new NotRefundableError(2, 'it is declined'), 'CNY')).toBe(
      'transaction #2 cannot be refunded: it is declined; only paid sales can be refunded',
    );
    expect(paymentRefusal('zh-CN', new NotRefundableError(2, 'it is a refund'), 'CNY')).toBe('交易 #2 不能退货：这是一笔退货交易');
    expect(paymentRefusal('zh-CN', new NotVoidableError(3, 'its batch is closed'), 'CNY')).toBe('交易 #3 不能撤销：该批次已结算');
    expect(voidRefusal('en', 'it is reversal_pending; only sales approved online can be voided')).toBe(
      'it is being reversed; only sales approved online can be voided',
    );
    expect(paymentRefusal('en', new Error('other'), 'CNY')).toBeNull();
  });

  it('reads the money module refusals in the cashier language', () => {
    const over = new AmountError('amount 2000.00 is over the terminal limit 1000.00', { reason: 'AMOUNT_OVER_LIMIT' });
    expect(amountProblem('zh-CN', over, '2000', 'CNY')).toBe('超过终端单笔限额 ¥1000.00');
    expect(amountProblem('en', new AmountError('x', {}), 'x', 'CNY')).toBe('x');
    expect(amountProblem('en', new AmountError('"1.2.3" is not an amount (digits)'), '1.2.3', 'CNY')).toBe(
      '"1.2.3" is not an amount (digits with an optional decimal point)',
    );
  });
});
