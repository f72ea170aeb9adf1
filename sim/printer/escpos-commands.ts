/**
 * The ESC/POS commands the simulated printer knows, written from docs/protocols/printer.md
 * (and the lengths of common commands the product never sends, so one of them does not put
 * the decoder out of step): how long each is and what it means.
 */
import { qrModules, type QrEcc } from './qr-symbol.js';

export type EscPosEvent =
  | { type: 'text'; text: string }
  | { type: 'status-request'; n: 1 | 2 | 3 | 4 }
  | { type: 'cut'; partial: boolean }
  /** `widthDots`: how wide the printer draws it (modules x module size); undefined when no QR version holds the data. */
  | { type: 'qr'; data: string; moduleSize: number; ecc: QrEcc; widthDots: number | undefined }
  | { type: 'barcode'; kind: string; data: string }
  | { type: 'drawer' }
  | { type: 'init' }
  | { type: 'style'; what: string; value: unknown }
  | { type: 'unknown'; bytes: Buffer };

export const ESC = 0x1b;
export const GS = 0x1d;
export const FS = 0x1c;
export const DLE = 0x10;
export const LF = 0x0a;
export const HT = 0x09;
export const CR = 0x0d;

/** Printer modes that change how later bytes are read. */
export interface Modes {
  chinese: boolean;
  /** QR symbol data stored by GS ( k fn 80, printed by fn 81 (possibly more than once). */
  qr: Buffer | undefined;
  /** GS ( k fn 67 and fn 69; the printer keeps them until changed or ESC @. */
  qrModuleSize: number;
  qrEcc: QrEcc;
}

/** Power-on QR settings (module size 3 dots, level L), as ESC @ restores them. */
export const QR_DEFAULTS = { qrModuleSize: 3, qrEcc: 'L' } as const;

/** The bytes so far end inside an item; `total` is its full length once its header has said. */
export class NeedMore {
  constructor(readonly total?: number) {}
}

interface Command {
  /** Full length of the command starting at `i`, or NeedMore while its header is incomplete. */
  length(buf: Buffer, i: number): number | NeedMore;
  /** Null when the command has no visible effect; a command without `event` is reported as unknown. */
  event?(cmd: Buffer, modes: Modes): EscPosEvent | null;
}

export const unknown = (bytes: Buffer): EscPosEvent => ({ type: 'unknown', bytes: Buffer.from(bytes) });

const fixed = (params: number, event?: Command['event']): Command => ({ length: () => 2 + params, event });

const style =
  (what: string, value: (p: Buffer) => unknown = (p) => p.readUInt8(0)): Command['event'] =>
  (cmd) => ({ type: 'style', what, value: value(cmd.subarray(2)) });

/** A command whose first `header` bytes give the length of what follows them. */
function counted(header: number, body: (h: Buffer) => number): Command['length'] {
  return (buf, i) => (i + header > buf.length ? new NeedMore() : header + body(buf.subarray(i, i + header)));
}

/** Data ended by NUL, at most `max` bytes; with no NUL in time the command ends there and the rest is ordinary data. */
function nulTerminated(start: number, max: number): Command['length'] {
  return (buf, i) => {
    const window = buf.subarray(i + start, i + start + max + 1);
    const nul = window.indexOf(0);
    if (nul !== -1) return start + nul + 1;
    return window.length > max ? start + max : new NeedMore();
  };
}

const ALIGNMENTS = ['left', 'center', 'right'] as const;
const QR_ECC: readonly QrEcc[] = ['L', 'M', 'Q', 'H'];

/** GS k function m - 65 (format B), or m itself for the NUL-terminated format A (0..6). */
const BARCODE_KINDS = [
  'UPC-A',
  'UPC-E',
  'EAN13',
  'EAN8',
  'CODE39',
  'ITF',
  'CODABAR',
  'CODE93',
  'CODE128',
  'GS1-128',
  'GS1-DATABAR-OMNI',
  'GS1-DATABAR-TRUNCATED',
  'GS1-DATABAR-LIMITED',
  'GS1-DATABAR-EXPANDED',
  'CODE128-AUTO',
] as const;
const CODE128 = 73;

/** GS V function -> partial cut?; the functions from 65 on take a feed amount after m. */
const CUTS = new Map<number, boolean>([
  [0, false],
  [48, false],
  [65, false],
  [97, false],
  [103, false],
  [1, true],
  [49, true],
  [66, true],
  [98, true],
  [104, true],
]);

/** DLE DC4 function -> parameter bytes after it; only function 1 (drawer pulse) matters to the product. */
const DC4_PARAMS = new Map<number, number>([
  [1, 2],
  [2, 2],
  [3, 2],
  [7, 1],
  [8, 7],
]);

const chineseMode =
  (on: boolean): Command['event'] =>
  (_cmd, modes) => {
    modes.chinese = on;
    return { type: 'style', what: 'chinese', value: on };
  };

/** Epson CODE128 data: "{A" "{B" "{C" switch code sets, "{{" is a literal brace, code set C packs two digits per byte. */
function code128Text(d: Buffer): string {
  let out = '';
  let setC = false;
  for (let k = 0; k < d.length; k++) {
    const c = d.readUInt8(k);
    if (c === 0x7b && k + 1 < d.length) {
      const next = d.readUInt8(++k);
      if (next === 0x7b) out += '{';
      else if (next === 0x43) setC = true;
      else if (next === 0x41 || next === 0x42) setC = false;
      continue;
    }
    out += setC ? String(c).padStart(2, '0') : String.fromCharCode(c);
  }
  return out;
}

function barcode(cmd: Buffer): EscPosEvent {
  const m = cmd.readUInt8(2);
  const formatA = m <= 6;
  const kind = BARCODE_KINDS[formatA ? m : m - 65];
  if (kind === undefined) return unknown(cmd);
  let data = cmd.subarray(formatA ? 3 : 4);
  if (formatA && data.at(-1) === 0) data = data.subarray(0, -1);
  return { type: 'barcode', kind, data: m === CODE128 ? code128Text(data) : data.toString('latin1') };
}

function qrEvent(data: Buffer, modes: Modes): EscPosEvent {
  const modules = qrModules(data.length, modes.qrEcc);
  return {
    type: 'qr',
    data: data.toString('utf8'),
    moduleSize: modes.qrModuleSize,
    ecc: modes.qrEcc,
    widthDots: modules === undefined ? undefined : modules * modes.qrModuleSize,
  };
}

/** GS ( k with cn = 49 is the QR code; other 2D symbols and GS ( functions are reported as unknown. */
function twoDimensional(cmd: Buffer, modes: Modes): EscPosEvent | null {
  const [fnLetter, cn, fn, param] = [cmd[2], cmd[5], cmd[6], cmd[7]];
  if (fnLetter !== 0x6b || cn !== 49 || param === undefined) return unknown(cmd);
  switch (fn) {
    case 65:
      return { type: 'style', what: 'qrModel', value: param - 48 };
    case 67:
      if (param >= 1 && param <= 16) modes.qrModuleSize = param;
      return { type: 'style', what: 'qrModuleSize', value: param };
    case 69: {
      const ecc = QR_ECC[param - 48];
      if (ecc !== undefined) modes.qrEcc = ecc;
      return { type: 'style', what: 'qrEcc', value: ecc ?? param };
    }
    case 80:
      modes.qr = Buffer.from(cmd.subarray(8));
      return null;
    case 81:
      return modes.qr === undefined ? unknown(cmd) : qrEvent(modes.qr, modes);
    default:
      return unknown(cmd);
  }
}

/**
 * The ESC/POS commands the decoder knows the length of, keyed by their first two bytes. Knowing
 * the length of commands it does not model is what keeps the decoder in step with the stream.
 */
export const COMMANDS = new Map<string, Command>([
  [
    '\x1b@',
    fixed(0, (_cmd, modes) => {
      modes.chinese = false;
      Object.assign(modes, QR_DEFAULTS);
      return { type: 'init' };
    }),
  ],
  ['\x1b!', fixed(1, style('printMode'))],
  ['\x1b ', fixed(1, style('rightSpacing'))],
  [
    '\x1b$',
    fixed(
      2,
      style('absolutePosition', (p) => p.readUInt16LE(0)),
    ),
  ],
  ['\x1b%', fixed(1, style('userCharset'))],
  ['\x1b-', fixed(1, style('underline'))],
  [
    '\x1b2',
    fixed(
      0,
      style('lineSpacing', () => 'default'),
    ),
  ],
  ['\x1b3', fixed(1, style('lineSpacing'))],
  ['\x1b=', fixed(1)],
  ['\x1b?', fixed(1, style('cancelUserChar'))],
  [
    '\x1bE',
    fixed(
      1,
      style('bold', (p) => (p.readUInt8(0) & 1) === 1),
    ),
  ],
  [
    '\x1bG',
    fixed(
      1,
      style('doubleStrike', (p) => (p.readUInt8(0) & 1) === 1),
    ),
  ],
  ['\x1bJ', fixed(1, () => ({ type: 'text', text: '\n' }))],
  ['\x1bL', fixed(0)],
  ['\x1bM', fixed(1, style('font'))],
  ['\x1bR', fixed(1, style('intlCharset'))],
  ['\x1bS', fixed(0)],
  ['\x1bT', fixed(1)],
  ['\x1bV', fixed(1, style('rotate'))],
  ['\x1bW', fixed(8)],
  [
    '\x1b\\',
    fixed(
      2,
      style('relativePosition', (p) => p.readInt16LE(0)),
    ),
  ],
  [
    '\x1ba',
    fixed(
      1,
      style('align', (p) => ALIGNMENTS[p.readUInt8(0) % 48] ?? p.readUInt8(0)),
    ),
  ],
  ['\x1bc', fixed(2)],
  ['\x1bd', fixed(1, (cmd) => ({ type: 'text', text: '\n'.repeat(cmd.readUInt8(2)) }))],
  ['\x1be', fixed(1, style('reverseFeed'))],
  ['\x1bi', fixed(0, () => ({ type: 'cut', partial: false }))],
  ['\x1bm', fixed(0, () => ({ type: 'cut', partial: true }))],
  ['\x1bp', fixed(3, () => ({ type: 'drawer' }))],
  ['\x1br', fixed(1, style('color'))],
  ['\x1bt', fixed(1, style('codePage'))],
  ['\x1bu', fixed(1)],
  ['\x1bv', fixed(0)],
  [
    '\x1b{',
    fixed(
      1,
      style('upsideDown', (p) => (p.readUInt8(0) & 1) === 1),
    ),
  ],
  ['\x1b*', { length: counted(5, (h) => h.readUInt16LE(3) * (h.readUInt8(2) & 0x20 ? 3 : 1)) }],
  [
    '\x1bD',
    { length: nulTerminated(2, 32), event: style('tabs', (p) => [...p.subarray(0, p.indexOf(0) === -1 ? p.length : p.indexOf(0))]) },
  ],

  [
    '\x1d!',
    fixed(
      1,
      style('size', (p) => ({ width: ((p.readUInt8(0) >> 4) & 7) + 1, height: (p.readUInt8(0) & 7) + 1 })),
    ),
  ],
  ['\x1d$', fixed(2)],
  ['\x1d/', fixed(1)],
  ['\x1d:', fixed(0)],
  [
    '\x1dB',
    fixed(
      1,
      style('reverse', (p) => (p.readUInt8(0) & 1) === 1),
    ),
  ],
  ['\x1dH', fixed(1, style('hriPosition'))],
  ['\x1dI', fixed(1)],
  [
    '\x1dL',
    fixed(
      2,
      style('leftMargin', (p) => p.readUInt16LE(0)),
    ),
  ],
  ['\x1dP', fixed(2)],
  ['\x1dT', fixed(1)],
  [
    '\x1dW',
    fixed(
      2,
      style('printAreaWidth', (p) => p.readUInt16LE(0)),
    ),
  ],
  ['\x1d\\', fixed(2)],
  ['\x1d^', fixed(3)],
  ['\x1da', fixed(1)],
  ['\x1db', fixed(1, style('smoothing'))],
  ['\x1df', fixed(1, style('hriFont'))],
  ['\x1dh', fixed(1, style('barcodeHeight'))],
  ['\x1dr', fixed(1)],
  ['\x1dw', fixed(1, style('barcodeWidth'))],
  ['\x1d(', { length: counted(5, (h) => h.readUInt16LE(3)), event: twoDimensional }],
  ['\x1d*', { length: counted(4, (h) => h.readUInt8(2) * h.readUInt8(3) * 8) }],
  [
    '\x1dV',
    {
      length: counted(3, (h) => (h.readUInt8(2) >= 65 && CUTS.has(h.readUInt8(2)) ? 1 : 0)),
      event: (cmd) => {
        const partial = CUTS.get(cmd.readUInt8(2));
        return partial === undefined ? unknown(cmd) : { type: 'cut', partial };
      },
    },
  ],
  [
    '\x1dk',
    {
      length: (buf, i) => {
        const m = buf[i + 2];
        if (m === undefined) return new NeedMore();
        if (m <= 6) return nulTerminated(3, 255)(buf, i);
        return m >= 65 && m <= 79 ? counted(4, (h) => h.readUInt8(3))(buf, i) : 3;
      },
      event: barcode,
    },
  ],
  [
    '\x1dv',
    {
      length: (buf, i) => {
        const f = buf[i + 2];
        if (f === undefined) return new NeedMore();
        return f === 0x30 ? counted(8, (h) => h.readUInt16LE(4) * h.readUInt16LE(6))(buf, i) : 2;
      },
    },
  ],

  ['\x1c&', fixed(0, chineseMode(true))],
  ['\x1c.', fixed(0, chineseMode(false))],
  ['\x1c!', fixed(1, style('kanjiPrintMode'))],
  ['\x1c-', fixed(1, style('kanjiUnderline'))],
  ['\x1cC', fixed(1, style('kanjiCodeSystem'))],
  ['\x1cS', fixed(2)],
  [
    '\x1cW',
    fixed(
      1,
      style('kanjiQuadruple', (p) => (p.readUInt8(0) & 1) === 1),
    ),
  ],
  ['\x1cp', fixed(2)],

  [
    '\x10\x04',
    fixed(1, (cmd) => {
      const n = cmd.readUInt8(2);
      return n === 1 || n === 2 || n === 3 || n === 4 ? { type: 'status-request', n } : unknown(cmd);
    }),
  ],
  ['\x10\x05', fixed(1)],
  [
    '\x10\x14',
    {
      length: counted(3, (h) => DC4_PARAMS.get(h.readUInt8(2)) ?? 0),
      event: (cmd) => (cmd.readUInt8(2) === 1 ? { type: 'drawer' } : unknown(cmd)),
    },
  ],
]);
