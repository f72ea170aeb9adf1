import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmountError, formatAmount, parseAmount } from '../../firmware-app/core/money.js';

describe('amounts are integer minor units, never floats', () => {
  it('parses what a cashier types', () => {
    expect(parseAmount('12.34', 'CNY')).toBe(1234);
    expect(parseAmount('12', 'CNY')).toBe(1200);
    expect(parseAmount('0.5', 'CNY')).toBe(50);
    expect(parseAmount(' 7. ', 'USD')).toBe(700);
    expect(parseAmount('1500', 'JPY')).toBe(1500);
    // The classic float trap: 0.1 + 0.2 style inputs stay exact.
    expect(parseAmount('0.29', 'CNY')).toBe(29);
    expect(parseAmount('1.15', 'CNY')).toBe(115);
  });

  it('refuses what is not an amount, with a typed error', () => {
    for (const bad of ['', 'abc', '-1', '1,00', '1.234', '1e3', '12.3.4', '0x10']) {
      expect(() => parseAmount(bad, 'CNY'), bad).toThrow(AmountError);
    }
    expect(() => parseAmount('1.5', 'JPY')).toThrow(/0 decimal places/);
  });

  it('formats minor units', () => {
    expect(formatAmount(1234, 'CNY')).toBe('12.34');
    expect(formatAmount(5, 'CNY')).toBe('0.05');
    expect(formatAmount(0, 'USD')).toBe('0.00');
    expect(formatAmount(1500, 'JPY')).toBe('1500');
    expect(formatAmount(-250, 'EUR')).toBe('-2.50');
  });

  it('round-trips every amount', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 999_999_999_999 }),
        fc.constantFrom<'CNY' | 'JPY' | 'USD'>('CNY', 'JPY', 'USD'),
        (minor, cur) => {
          expect(parseAmount(formatAmount(minor, cur), cur)).toBe(minor);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
