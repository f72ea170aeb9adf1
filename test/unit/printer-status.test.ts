import { describe, it, expect } from 'vitest';
import {
  combineStatus,
  decodeStatusByte,
  describeStatus,
  encodeStatusByte,
  isClean,
  PrinterStatusError,
  type PrinterStatus,
  type StatusRequest,
} from '../../drivers/printer/status.js';

/** bit1 and bit4 set, bit0 and bit7 clear: an answer with nothing to report. */
const BASE = 0x12;
const REQUESTS: StatusRequest[] = [1, 2, 3, 4];

const READY: PrinterStatus = {
  online: true,
  coverOpen: false,
  paperNearEnd: false,
  paperEnd: false,
  cutterError: false,
  unrecoverableError: false,
  autoRecoverableError: false,
  recoverableError: false,
  drawerOpen: false,
};

const QUIET: Record<StatusRequest, Partial<PrinterStatus>> = {
  1: { online: true, drawerOpen: false },
  2: { coverOpen: false, paperEnd: false },
  3: { recoverableError: false, cutterError: false, unrecoverableError: false, autoRecoverableError: false },
  4: { paperNearEnd: false, paperEnd: false },
};

const FLAG_BITS: Array<[string, StatusRequest, number, Partial<PrinterStatus>]> = [
  ['n=1 bit2 drawer kick-out pin 3 high', 1, 0x04, { drawerOpen: true }],
  ['n=1 bit3 offline', 1, 0x08, { online: false }],
  ['n=1 bit5 waiting for online recovery (no flag of its own)', 1, 0x20, {}],
  ['n=1 bit6 feed button pressed (no flag of its own)', 1, 0x40, {}],
  ['n=2 bit2 cover open', 2, 0x04, { coverOpen: true }],
  ['n=2 bit3 feeding by the feed button (no flag of its own)', 2, 0x08, {}],
  ['n=2 bit5 printing stopped by paper end', 2, 0x20, { paperEnd: true }],
  ['n=2 bit6 error occurred (cause is read from n=3)', 2, 0x40, {}],
  ['n=3 bit2 recoverable error', 3, 0x04, { recoverableError: true }],
  ['n=3 bit3 autocutter error', 3, 0x08, { cutterError: true }],
  ['n=3 bit5 unrecoverable error', 3, 0x20, { unrecoverableError: true }],
  ['n=3 bit6 auto-recoverable error', 3, 0x40, { autoRecoverableError: true }],
  ['n=4 bits2+3 paper near end', 4, 0x0c, { paperNearEnd: true }],
  ['n=4 bit2 alone still reads as near end', 4, 0x04, { paperNearEnd: true }],
  ['n=4 bit3 alone still reads as near end', 4, 0x08, { paperNearEnd: true }],
  ['n=4 bits5+6 paper end', 4, 0x60, { paperEnd: true }],
  ['n=4 bit5 alone still reads as paper end', 4, 0x20, { paperEnd: true }],
  ['n=4 bit6 alone still reads as paper end', 4, 0x40, { paperEnd: true }],
];

const FLAGS = Object.keys(READY) as Array<keyof PrinterStatus>;

/** Every one of the 512 combinations of the nine flags. */
function allStatuses(): PrinterStatus[] {
  return Array.from(
    { length: 1 << FLAGS.length },
    (_, mask) => Object.fromEntries(FLAGS.map((flag, bit) => [flag, (mask & (1 << bit)) !== 0])) as unknown as PrinterStatus,
  );
}

describe('decodeStatusByte', () => {
  it.each(REQUESTS)('reads n=%i with no bits set as nothing wrong', (n) => {
    expect(decodeStatusByte(n, BASE)).toEqual(QUIET[n]);
  });

  it.each(FLAG_BITS)('%s', (_name, n, bits, flags) => {
    expect(decodeStatusByte(n, BASE | bits)).toEqual({ ...QUIET[n], ...flags });
  });

  it.each(REQUESTS)('rejects every n=%i byte whose fixed bits are wrong', (n) => {
    let rejected = 0;
    for (let byte = 0; byte <= 0xff; byte++) {
      if ((byte & 0x93) === 0x12) continue;
      expect(() => decodeStatusByte(n, byte)).toThrow(PrinterStatusError);
      rejected++;
    }
    expect(rejected).toBe(256 - 16);
  });

  it('names each fixed bit violation with PRINTER_STATUS_INVALID', () => {
    for (const bad of [BASE | 0x01, BASE & ~0x02, BASE & ~0x10, BASE | 0x80]) {
      expect(() => decodeStatusByte(1, bad)).toThrow(expect.objectContaining({ code: 'PRINTER_STATUS_INVALID' }));
    }
  });

  it('rejects values that are not a byte and unknown requests', () => {
    expect(() => decodeStatusByte(1, 0x112)).toThrow(PrinterStatusError);
    expect(() => decodeStatusByte(1, -1)).toThrow(PrinterStatusError);
    expect(() => decodeStatusByte(1, 18.5)).toThrow(PrinterStatusError);
    expect(() => decodeStatusByte(5 as StatusRequest, BASE)).toThrow(PrinterStatusError);
    expect(() => encodeStatusByte(0 as StatusRequest, READY)).toThrow(PrinterStatusError);
  });
});

describe('combineStatus', () => {
  it('reads four quiet answers as ready', () => {
    expect(combineStatus(REQUESTS.map((n) => decodeStatusByte(n, BASE)))).toEqual(READY);
  });

  it('treats absent flags as false and the printer as online unless told otherwise', () => {
    expect(combineStatus([])).toEqual(READY);
    expect(combineStatus([{ coverOpen: true }]).online).toBe(true);
  });

  it('lets a problem reported by any part win', () => {
    const s = combineStatus([{ paperEnd: false, online: true }, { paperEnd: true }, { online: false }]);
    expect(s.paperEnd).toBe(true);
    expect(s.online).toBe(false);
  });
});

describe('encodeStatusByte', () => {
  it('is the inverse of decoding for every combination of flags and every n', () => {
    for (const s of allStatuses()) {
      const parts = REQUESTS.map((n) => {
        const part = decodeStatusByte(n, encodeStatusByte(n, s));
        expect(part).toEqual(Object.fromEntries(Object.keys(QUIET[n]).map((k) => [k, s[k as keyof PrinterStatus]])));
        return part;
      });
      expect(combineStatus(parts)).toEqual(s);
    }
  });

  it('sets the n=2 error-occurred bit when n=3 has a cause', () => {
    expect(encodeStatusByte(2, READY)).toBe(BASE);
    expect(encodeStatusByte(2, { ...READY, cutterError: true })).toBe(BASE | 0x40);
  });

  it('sets both sensor bits of n=4, as printers do', () => {
    expect(encodeStatusByte(4, { ...READY, paperNearEnd: true, paperEnd: true })).toBe(BASE | 0x0c | 0x60);
  });
});

describe('isClean and describeStatus', () => {
  it.each<[string, Partial<PrinterStatus>, boolean, string]>([
    ['ready', {}, true, 'ready'],
    ['paper near end still prints', { paperNearEnd: true }, true, 'paper low'],
    ['an open drawer does not stop printing', { drawerOpen: true }, true, 'ready'],
    ['paper end', { paperEnd: true, online: false }, false, 'paper out'],
    ['cover open', { coverOpen: true, online: false }, false, 'cover open'],
    ['paper out is named before cover open', { coverOpen: true, paperEnd: true, online: false }, false, 'paper out'],
    ['offline without a cause', { online: false }, false, 'offline'],
    ['cutter error', { cutterError: true }, false, 'cutter error'],
    ['cutter error is named before a generic error', { cutterError: true, recoverableError: true }, false, 'cutter error'],
    ['recoverable error', { recoverableError: true }, false, 'error'],
    ['unrecoverable error', { unrecoverableError: true }, false, 'error'],
    ['auto-recoverable error', { autoRecoverableError: true }, false, 'error'],
    ['an error outranks paper low', { paperNearEnd: true, unrecoverableError: true }, false, 'error'],
  ])('%s', (_name, flags, clean, words) => {
    const s = { ...READY, ...flags };
    expect(isClean(s)).toBe(clean);
    expect(describeStatus(s)).toBe(words);
  });

  it('describes every unclean status as something other than ready or paper low', () => {
    for (const s of allStatuses()) {
      expect(['ready', 'paper low'].includes(describeStatus(s))).toBe(isClean(s));
    }
  });
});
