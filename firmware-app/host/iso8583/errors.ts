import { PosError } from '../../../drivers/base/errors.js';

/**
 * Base of every packager error, so the host link can treat "malformed message" as one
 * case. Details and messages carry field numbers and lengths, never field values:
 * a value may be card data, a PIN block or key material.
 */
export abstract class IsoError extends PosError {}

export class IsoUnknownFieldError extends IsoError {
  constructor(field: number) {
    super('ISO_UNKNOWN_FIELD', `field ${field} is not a data field of this spec`, { field });
  }
}

export class IsoLengthError extends IsoError {
  constructor(field: number, reason: string) {
    super('ISO_BAD_LENGTH', `field ${field}: ${reason}`, { field });
  }
}

/** `part` says where the input ran out: 'MTI', 'bitmap' or 'field'. */
export class IsoTruncatedError extends IsoError {
  constructor(part: string, needed: number, available: number, field?: number) {
    super(
      'ISO_TRUNCATED',
      `message ends inside ${field === undefined ? part : `field ${field}`}: needed ${needed} bytes, ${available} left`,
      field === undefined ? { part, needed, available } : { part, field, needed, available },
    );
  }
}

export class IsoTrailingBytesError extends IsoError {
  constructor(count: number) {
    super('ISO_TRAILING_BYTES', `${count} bytes left over after the last field`, { count });
  }
}

export class IsoMtiError extends IsoError {
  constructor(reason: string) {
    super('ISO_BAD_MTI', reason);
  }
}

/** `field` is undefined when the value is not yet tied to a field (fmtN). */
export class IsoValueError extends IsoError {
  constructor(field: number | undefined, reason: string) {
    super('ISO_BAD_VALUE', field === undefined ? reason : `field ${field}: ${reason}`, field === undefined ? {} : { field });
  }
}
