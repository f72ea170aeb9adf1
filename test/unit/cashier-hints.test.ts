import { describe, expect, it } from 'vitest';
import { CASHIER_HINT_ZH, cashierHint } from '../../firmware-app/declines/cashier-hints-zh.js';
import { CATALOG } from '../../firmware-app/declines/catalog.js';

describe('what the cashier does next, in Chinese', () => {
  it('has a Chinese hint for exactly the catalog codes, with no ASCII words in it', () => {
    expect(Object.keys(CASHIER_HINT_ZH).sort()).toEqual(Object.keys(CATALOG).sort());
    for (const [code, hint] of Object.entries(CASHIER_HINT_ZH)) {
      // Tolerated ASCII: parentheses, punctuation and spaces; no English word.
      expect(hint, code).not.toMatch(/[A-Za-z]{2,}/);
    }
  });

  it('reads unknown codes as the catalog does: an unknown reader code like a failed read, anything else generic', () => {
    expect(cashierHint('51', 'zh-CN')).toBe('请顾客换一张卡或减少金额。');
    expect(cashierHint('51', 'en')).toBe(CATALOG['51']!.cashierHint);
    expect(cashierHint('READER_SOMETHING_NEW', 'zh-CN')).toBe(CASHIER_HINT_ZH.READER_CARD_READ_FAILED);
    expect(cashierHint('Z9', 'zh-CN')).toBe('请顾客换一张卡或其他支付方式。');
  });
});
