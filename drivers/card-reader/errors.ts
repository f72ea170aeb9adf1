import { PosError } from '../base/errors.js';

/** The reader did not answer a command within its time. */
export class ReaderTimeoutError extends PosError {
  constructor(command: string, timeoutMs: number) {
    super('READER_TIMEOUT', `card reader did not answer ${command} within ${timeoutMs} ms`, { command, timeoutMs });
  }
}

/** The reader's port is gone (unplugged, closed, or failing its health probe). */
export class ReaderDisconnectedError extends PosError {
  constructor(path: string, reason: string) {
    super('READER_DISCONNECTED', `card reader on ${path} is disconnected: ${reason}`, { path, reason });
  }
}

/** ERR codes of docs/protocols/card-reader.md section 8; anything else is treated as a read failure. */
export const READER_ERR_CODES = ['TIMEOUT', 'CANCELLED', 'CARD_READ_FAILED', 'BUSY'] as const;

// An ERR code is echoed into messages and logs, so only a shape that cannot carry card
// digits is kept; a non-conforming reader's code is replaced, never repeated.
const SAFE_UNKNOWN_CODE = /^[A-Z_]{1,32}$/;

function errorCode(command: string, readerCode: string): string {
  if (readerCode === 'TIMEOUT') return command === 'PIN' ? 'READER_PIN_TIMEOUT' : 'READER_NO_CARD';
  if ((READER_ERR_CODES as readonly string[]).includes(readerCode)) return `READER_${readerCode}`;
  return 'READER_CARD_READ_FAILED';
}

/**
 * The reader answered ERR: `readerCode` is its own code (CANCELLED, TIMEOUT, CARD_READ_FAILED,
 * BUSY). Its TIMEOUT means "no card was presented" (READ) or "no PIN was entered" (PIN),
 * distinct from READER_TIMEOUT above ("the reader itself did not answer"), so it becomes
 * READER_NO_CARD or READER_PIN_TIMEOUT. A cancel by the terminal (`CardReaderClient.cancel`)
 * ends the READ or PIN with this error and `readerCode` CANCELLED too.
 */
export class ReaderCommandError extends PosError {
  readonly readerCode: string;
  constructor(command: string, readerCode: string) {
    const shown = SAFE_UNKNOWN_CODE.test(readerCode) ? readerCode : 'INVALID';
    super(errorCode(command, readerCode), `card reader refused ${command}: ${shown}`, { command, readerCode: shown });
    this.readerCode = shown;
  }
}

/** Frames kept arriving damaged after every allowed retransmission. */
export class ReaderLinkError extends PosError {
  constructor(command: string, reason: string, transmissions: number) {
    super('READER_LINK_ERROR', `card reader link kept failing for ${command} (${reason}) after ${transmissions} transmissions`, {
      command,
      reason,
      transmissions,
    });
  }
}

/** The reader answered with something that breaks the protocol or the card-data rules. */
export class ReaderProtocolError extends PosError {
  constructor(command: string, problem: string) {
    super('READER_PROTOCOL', `card reader answered ${command} incorrectly: ${problem}`, { command, problem });
  }
}

/** The terminal asked for something the protocol cannot carry (an amount of 13 digits, a bad currency...). */
export class ReaderRequestError extends PosError {
  constructor(command: string, problem: string) {
    super('READER_BAD_REQUEST', `card reader ${command} not sent: ${problem}`, { command, problem });
  }
}
