import { PosError } from '../../drivers/base/errors.js';

/** ISO 4217 currencies the terminal accepts: alpha code -> numeric code and minor-unit exponent. */
export const CURRENCIES = {
  CNY: { numeric: '156', exponent: 2 },
  HKD: { numeric: '344', exponent: 2 },
  USD: { numeric: '840', exponent: 2 },
  EUR: { numeric: '978', exponent: 2 },
  GBP: { numeric: '826', exponent: 2 },
  SGD: { numeric: '702', exponent: 2 },
  JPY: { numeric: '392', exponent: 0 },
  KRW: { numeric: '410', exponent: 0 },
} as const;

export type CurrencyCode = keyof typeof CURRENCIES;

export function isCurrencyCode(value: string): value is CurrencyCode {
  return Object.hasOwn(CURRENCIES, value);
}

export function currencyByNumeric(numeric: string): CurrencyCode | undefined {
  return (Object.keys(CURRENCIES) as CurrencyCode[]).find((c) => CURRENCIES[c].numeric === numeric);
}

export class AmountError extends PosError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('AMOUNT_INVALID', message, details);
  }
}

/**
 * Parses what a cashier types ("12.34", "12", "0.5") into integer minor units without
 * ever going through floating point.
 */
export function parseAmount(text: string, currency: CurrencyCode): number {
  const exponent = CURRENCIES[currency].exponent;
  const trimmed = text.trim();
  const match = /^(\d{1,12})(?:\.(\d*))?$/.exec(trimmed);
  if (!match) throw new AmountError(`"${trimmed.slice(0, 20)}" is not an amount (digits with an optional decimal point)`);
  const whole = match[1] ?? '0';
  const frac = match[2] ?? '';
  if (frac.length > exponent) {
    throw new AmountError(`${currency} allows ${exponent} decimal places, "${trimmed}" has ${frac.length}`);
  }
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt((frac + '0'.repeat(exponent)).slice(0, exponent) || '0');
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw new AmountError('amount too large');
  return Number(minor);
}

/** Formats integer minor units for display: 1234 CNY -> "12.34". */
export function formatAmount(minor: number, currency: CurrencyCode): string {
  if (!Number.isSafeInteger(minor)) throw new AmountError('amount must be an integer number of minor units');
  const exponent = CURRENCIES[currency].exponent;
  const negative = minor < 0;
  const digits = String(Math.abs(minor)).padStart(exponent + 1, '0');
  const body = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return negative ? `-${body}` : body;
}
