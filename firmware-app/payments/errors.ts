import { PosError } from '../../drivers/base/errors.js';

/** Refused before anything is recorded: the request itself is wrong, not the card or the host. */
export class PaymentRequestError extends PosError {}

export class CurrencyNotAcceptedError extends PaymentRequestError {
  constructor(currency: string, accepted: string) {
    super('CURRENCY_NOT_ACCEPTED', `this terminal takes ${accepted}, not ${currency}`, { currency, accepted });
  }
}

export class RefundExceedsOriginalError extends PaymentRequestError {
  constructor(originalId: number, requested: number, refundable: number) {
    super(
      'REFUND_EXCEEDS_ORIGINAL',
      `refund of ${requested} is more than the ${refundable} still refundable on transaction ${originalId}`,
      {
        originalId,
        requested,
        refundable,
      },
    );
  }
}

export class NotRefundableError extends PaymentRequestError {
  constructor(originalId: number, reason: string) {
    super('ORIGINAL_NOT_REFUNDABLE', `transaction ${originalId} cannot be refunded: ${reason}`, { originalId, reason });
  }
}

export class NotVoidableError extends PaymentRequestError {
  constructor(originalId: number, reason: string) {
    super('ORIGINAL_NOT_VOIDABLE', `transaction ${originalId} cannot be voided: ${reason}`, { originalId, reason });
  }
}

/** The terminal runs one payment at a time (one card reader, one cashier). */
export class PaymentInProgressError extends PaymentRequestError {
  constructor() {
    super('PAYMENT_IN_PROGRESS', 'a payment is already in progress');
  }
}
