import { PosError } from '../../drivers/base/errors.js';

/** Nothing was sent: there is no connection to the host. Safe to decide offline. */
export class HostUnreachableError extends PosError {
  constructor(reason: string) {
    super('HOST_UNREACHABLE', `acquirer host unreachable: ${reason}`, { reason });
  }
}

/** The request left the terminal and no answer came in time: it must be reversed, never re-sent. */
export class HostTimeoutError extends PosError {
  constructor(mti: string, stan: string, timeoutMs: number) {
    super('HOST_TIMEOUT', `no answer to ${mti} STAN ${stan} within ${timeoutMs} ms`, { mti, stan, timeoutMs });
  }
}

/**
 * The host answered with something the terminal cannot use (docs/protocols/host-iso8583.md
 * section 6.1). Treated as no answer: a financial exchange is reversed, never approved.
 * The problem names field numbers only, never values.
 */
export class HostProtocolError extends PosError {
  constructor(problem: string, detail: { mti?: string; stan?: string } = {}) {
    super('HOST_PROTOCOL', `acquirer host protocol error: ${problem}`, { problem, ...detail });
  }
}

/** A second exchange with the same terminal id + STAN while the first is unanswered: a caller bug. */
export class DuplicateExchangeError extends PosError {
  constructor(key: string) {
    super('HOST_DUPLICATE_EXCHANGE', `an exchange ${key} is already in flight`, { key });
  }
}

/** The request left (or may have left) and no answer the terminal can act on came back: it must be reversed. */
export function isUnanswered(err: unknown): err is HostTimeoutError | HostUnreachableError | HostProtocolError {
  return err instanceof HostTimeoutError || err instanceof HostUnreachableError || err instanceof HostProtocolError;
}

/** The decline code a payment in reversal_pending carries: why it is being reversed. */
export function reversalReason(err: HostTimeoutError | HostUnreachableError | HostProtocolError): string {
  return err instanceof HostProtocolError ? err.code : 'HOST_TIMEOUT';
}
