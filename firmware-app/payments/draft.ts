import type { CurrencyCode } from '../core/money.js';

/**
 * A sale or refund the cashier has rung up but whose row is not written yet. The write-ahead
 * rule asks that the intent to send is durable before the 0200 leaves; a payment that never
 * gets that far (the card was not read, the cashier cancelled, the process stopped) sent
 * nothing and charged nobody, so it needs no durable row. Its row is created inside the first
 * commit it does need: online_sent, the offline decision, or its end before a card was read.
 */
export interface PaymentDraft {
  type: 'sale' | 'refund';
  amount: number;
  currency: CurrencyCode;
  /** The sale a refund gives money back from. */
  originalId?: number;
}
