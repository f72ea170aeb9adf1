import { PosError } from '../base/errors.js';
import { MAX_FRAME_LENGTH } from './frame.js';

/** Every timeout and retry count of the reader link, in one validated object (shortened in tests). */
export interface ReaderOptions {
  path: string;
  baudRate: number;
  /** Answer time for INFO, STATUS, DISPLAY, BEEP, RESET, CANCEL. */
  commandTimeoutMs: number;
  /** READ and PIN may take their own timeout argument plus this margin. */
  interactiveMarginMs: number;
  /** Transmissions of one frame in all (first + retransmissions after NAK); the terminal sends at most this minus one NAKs per command. */
  maxTransmissions: number;
  /** Longest line buffered from the reader; at least the protocol's 1024-byte frame. */
  maxLineLength: number;
  /** First reconnect delay after the port is lost; doubles up to reconnectMaxMs. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /**
   * Health probe period; 0 disables. An idle link gets STATUS (no answer within
   * commandTimeoutMs = disconnected), a busy one an empty line (write error = disconnected).
   * Needed because `close` is not emitted when a pty or USB adapter vanishes on Linux, so it
   * bounds how long an unplug during READ goes unnoticed.
   */
  healthProbeMs: number;
}

export const READER_DEFAULTS: Omit<ReaderOptions, 'path'> = {
  baudRate: 115200,
  commandTimeoutMs: 2000,
  interactiveMarginMs: 2000,
  maxTransmissions: 3,
  maxLineLength: 1024,
  reconnectMinMs: 200,
  reconnectMaxMs: 5000,
  healthProbeMs: 5000,
};

export class ReaderOptionsError extends PosError {
  constructor(field: string, problem: string) {
    super('READER_OPTIONS_INVALID', `reader option ${field} ${problem}`, { field });
  }
}

export function resolveReaderOptions(input: Partial<ReaderOptions> & { path: string }): ReaderOptions {
  const o: ReaderOptions = { ...READER_DEFAULTS, ...input };
  if (!o.path) throw new ReaderOptionsError('path', 'must name a device');
  const positive: (keyof ReaderOptions)[] = [
    'baudRate',
    'commandTimeoutMs',
    'interactiveMarginMs',
    'maxTransmissions',
    'maxLineLength',
    'reconnectMinMs',
    'reconnectMaxMs',
  ];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ReaderOptionsError(k, 'must be a positive integer');
  }
  if (!Number.isInteger(o.healthProbeMs) || o.healthProbeMs < 0)
    throw new ReaderOptionsError('healthProbeMs', 'must be 0 or a positive integer');
  if (o.reconnectMaxMs < o.reconnectMinMs) throw new ReaderOptionsError('reconnectMaxMs', 'must be >= reconnectMinMs');
  if (o.maxLineLength < MAX_FRAME_LENGTH || o.maxLineLength > 65536)
    throw new ReaderOptionsError('maxLineLength', `must be ${MAX_FRAME_LENGTH}-65536`);
  if (o.maxTransmissions > 10) throw new ReaderOptionsError('maxTransmissions', 'must be at most 10');
  return o;
}
