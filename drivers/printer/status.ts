import { PosError } from '../base/errors.js';

/**
 * Real-time status request; the printer answers one byte even while busy or offline. Kept
 * with the status decoder, so asking for a status does not load the encoder and its code pages.
 */
export const DLE_EOT = (n: 1 | 2 | 3 | 4) => Buffer.from([0x10, 0x04, n]);

export class PrinterStatusError extends PosError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PRINTER_STATUS_INVALID', message, details);
  }
}

export interface PrinterStatus {
  online: boolean;
  coverOpen: boolean;
  paperNearEnd: boolean;
  paperEnd: boolean;
  cutterError: boolean;
  unrecoverableError: boolean;
  autoRecoverableError: boolean;
  recoverableError: boolean;
  drawerOpen: boolean;
}

export type StatusRequest = 1 | 2 | 3 | 4;

export type StatusWord = 'ready' | 'paper out' | 'cover open' | 'offline' | 'paper low' | 'cutter error' | 'error';

/**
 * Every DLE EOT answer has bit0 = 0, bit1 = 1, bit4 = 1, bit7 = 0. Checking them is how a
 * status byte is told apart from line noise or a stray byte of another reply.
 */
const FIXED_MASK = 0x93;
const FIXED_VALUE = 0x12;

/** n = 2 bit 6 only says "an error occurred"; the cause comes from n = 3, so decoding skips it. */
const ERROR_OCCURRED = 0x40;

/**
 * The flags each request reports and their bits (Epson ESC/POS). `online` travels inverted,
 * as the offline bit. n = 4 reports each sensor on two bits; either bit counts when decoding,
 * so a printer that sets only one is not read as healthy.
 */
const BITS: Record<StatusRequest, ReadonlyArray<readonly [keyof PrinterStatus, number]>> = {
  1: [
    ['online', 0x08],
    ['drawerOpen', 0x04],
  ],
  2: [
    ['coverOpen', 0x04],
    ['paperEnd', 0x20],
  ],
  3: [
    ['recoverableError', 0x04],
    ['cutterError', 0x08],
    ['unrecoverableError', 0x20],
    ['autoRecoverableError', 0x40],
  ],
  4: [
    ['paperNearEnd', 0x0c],
    ['paperEnd', 0x60],
  ],
};

function bitsFor(n: number): ReadonlyArray<readonly [keyof PrinterStatus, number]> {
  const bits = Object.hasOwn(BITS, n) ? BITS[n as StatusRequest] : undefined;
  if (bits === undefined) {
    throw new PrinterStatusError('status request must be 1..4', { n });
  }
  return bits;
}

export function decodeStatusByte(n: StatusRequest, byte: number): Partial<PrinterStatus> {
  const bits = bitsFor(n);
  if (!Number.isInteger(byte) || byte < 0 || byte > 0xff || (byte & FIXED_MASK) !== FIXED_VALUE) {
    throw new PrinterStatusError('not a status byte: fixed bits are wrong', { n, byte });
  }
  const out: Partial<PrinterStatus> = {};
  for (const [flag, mask] of bits) {
    const set = (byte & mask) !== 0;
    out[flag] = flag === 'online' ? !set : set;
  }
  return out;
}

/** Problems win: a flag is set if any part sets it, and one offline answer makes the printer offline. */
export function combineStatus(parts: Partial<PrinterStatus>[]): PrinterStatus {
  const any = (flag: Exclude<keyof PrinterStatus, 'online'>) => parts.some((p) => p[flag] === true);
  return {
    online: parts.every((p) => p.online !== false),
    coverOpen: any('coverOpen'),
    paperNearEnd: any('paperNearEnd'),
    paperEnd: any('paperEnd'),
    cutterError: any('cutterError'),
    unrecoverableError: any('unrecoverableError'),
    autoRecoverableError: any('autoRecoverableError'),
    recoverableError: any('recoverableError'),
    drawerOpen: any('drawerOpen'),
  };
}

function hasError(s: PrinterStatus): boolean {
  return s.cutterError || s.unrecoverableError || s.autoRecoverableError || s.recoverableError;
}

/** Near end still prints a receipt or two, so it is clean; the drawer has nothing to do with printing. */
export function isClean(s: PrinterStatus): boolean {
  return s.online && !s.coverOpen && !s.paperEnd && !hasError(s);
}

/**
 * One word for the cashier, the cause they can act on first: paper out before cover open
 * (reloading paper opens the cover anyway), specific errors before generic ones, and
 * "offline" only when the printer gives no reason.
 */
export function describeStatus(s: PrinterStatus): StatusWord {
  if (s.paperEnd) return 'paper out';
  if (s.coverOpen) return 'cover open';
  if (s.cutterError) return 'cutter error';
  if (hasError(s)) return 'error';
  if (!s.online) return 'offline';
  if (s.paperNearEnd) return 'paper low';
  return 'ready';
}

export function encodeStatusByte(n: StatusRequest, s: PrinterStatus): number {
  let byte = FIXED_VALUE;
  for (const [flag, mask] of bitsFor(n)) {
    if (flag === 'online' ? !s.online : s[flag]) byte |= mask;
  }
  if (n === 2 && hasError(s)) byte |= ERROR_OCCURRED;
  return byte;
}
