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

/**
 * The reader answered ERR: `readerCode` is its own code (CANCELLED, TIMEOUT, CARD_READ_FAILED,
 * BUSY...). Its TIMEOUT means "no card was presented", distinct from READER_TIMEOUT above
 * ("the reader itself did not answer"), so it becomes READER_NO_CARD.
 */
export class ReaderCommandError extends PosError {
  readonly readerCode: string;
  constructor(command: string, readerCode: string) {
    super(readerCode === 'TIMEOUT' ? 'READER_NO_CARD' : `READER_${readerCode}`, `card reader refused ${command}: ${readerCode}`, { command, readerCode });
    this.readerCode = readerCode;
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
