export type CardBrand = 'unionpay' | 'visa' | 'mastercard' | 'amex' | 'jcb';

/**
 * The card scheme from the BIN the reader leaves clear in the masked PAN ("622848******1234").
 * Only ranges a counter in China meets; anything else prints no card-type line rather than a guess.
 */
export function cardBrand(maskedPan: string | null): CardBrand | null {
  const bin = /^\d{6}/.exec(maskedPan ?? '')?.[0];
  if (bin === undefined) return null;
  const first4 = Number(bin.slice(0, 4));
  if (/^(62|81)/.test(bin)) return 'unionpay';
  if (bin.startsWith('4')) return 'visa';
  if (/^5[1-5]/.test(bin) || (first4 >= 2221 && first4 <= 2720)) return 'mastercard';
  if (/^3[47]/.test(bin)) return 'amex';
  if (first4 >= 3528 && first4 <= 3589) return 'jcb';
  return null;
}
