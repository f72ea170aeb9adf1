import iconv from 'iconv-lite';
import { PosError } from '../base/errors.js';

export { DLE_EOT } from './status.js';

export class EscPosError extends PosError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ESCPOS_INVALID', message, details);
  }
}

const ESC = 0x1b;
const GS = 0x1d;
const FS = 0x1c;
const LF = 0x0a;

/** Epson caps the QR store function (fn 180) at 7089 data bytes. */
export const QR_MAX_BYTES = 7089;

const ALIGN = { left: 0, center: 1, right: 2 } as const;
const QR_ECC = { L: 48, M: 49, Q: 50, H: 51 } as const;
const CUT = { full: 65, partial: 66 } as const;
const BARCODE = { CODE128: 73, CODE39: 69 } as const;

/** Characters CODE39 can carry; '*' is left out because it is the start/stop symbol the printer adds itself. */
const CODE39_CHARS = /^[0-9A-Z $%+\-./]+$/;
/** CODE128 code set B: printable ASCII. */
const CODE128B_CHARS = /^[\x20-\x7e]+$/;
/** Every C0 control except LF, and DEL: inside text they would be read as commands (ESC, GS ...) or upset column counts. */
const CONTROL_CHARS = /[\x00-\x09\x0b-\x1f\x7f]/g;

function byteParam(name: string, value: number, min = 0, max = 255): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EscPosError(`${name} must be an integer in ${min}..${max}`, { [name]: value });
  }
  return value;
}

function lookup(name: string, table: Readonly<Record<string, number>>, key: string): number {
  const value = Object.hasOwn(table, key) ? table[key] : undefined;
  if (value === undefined) {
    throw new EscPosError(`${name} must be one of ${Object.keys(table).join(', ')}`, { [name]: key });
  }
  return value;
}

/**
 * Builds the ESC/POS byte stream for one print job. The builder remembers whether it has put
 * the printer in Chinese mode, because that decides how `text` is encoded.
 */
export class EscPosBuilder {
  private readonly parts: Buffer[] = [];
  private chineseMode = false;

  private push(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  /** ESC @ restores power-on modes; assume Chinese mode is off afterwards, which is safe either way since ASCII is the same in both. */
  init(): this {
    this.chineseMode = false;
    return this.push(ESC, 0x40);
  }

  codePage(n: number): this {
    return this.push(ESC, 0x74, byteParam('codePage', n));
  }

  chinese(on: boolean): this {
    this.chineseMode = on;
    return on ? this.push(FS, 0x26) : this.push(FS, 0x2e);
  }

  align(a: 'left' | 'center' | 'right'): this {
    return this.push(ESC, 0x61, lookup('align', ALIGN, a));
  }

  bold(on: boolean): this {
    return this.push(ESC, 0x45, on ? 1 : 0);
  }

  size(width: 1 | 2, height: 1 | 2): this {
    const w = byteParam('width', width, 1, 2);
    const h = byteParam('height', height, 1, 2);
    return this.push(GS, 0x21, ((w - 1) << 4) | (h - 1));
  }

  text(s: string): this {
    const clean = s.replace(CONTROL_CHARS, '?');
    if (this.chineseMode) {
      this.parts.push(iconv.encode(clean, 'gb18030'));
    } else {
      this.parts.push(Buffer.from(clean.replace(/[^\x00-\x7f]/gu, '?'), 'ascii'));
    }
    return this;
  }

  line(s = ''): this {
    return this.text(s).push(LF);
  }

  feed(lines: number): this {
    return this.push(ESC, 0x64, byteParam('feed', lines));
  }

  qr(data: string, opts: { moduleSize?: number; ecc?: 'L' | 'M' | 'Q' | 'H' } = {}): this {
    const payload = Buffer.from(data, 'utf8');
    if (payload.length === 0 || payload.length > QR_MAX_BYTES) {
      throw new EscPosError(`qr data must be 1..${QR_MAX_BYTES} bytes`, { length: payload.length });
    }
    const moduleSize = byteParam('moduleSize', opts.moduleSize ?? 6, 1, 16);
    const ecc = lookup('ecc', QR_ECC, opts.ecc ?? 'M');
    const store = payload.length + 3;
    this.push(GS, 0x28, 0x6b, 0x04, 0x00, 0x31, 0x41, 0x32, 0x00);
    this.push(GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x43, moduleSize);
    this.push(GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x45, ecc);
    this.push(GS, 0x28, 0x6b, store & 0xff, store >> 8, 0x31, 0x50, 0x30);
    this.parts.push(payload);
    return this.push(GS, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30);
  }

  barcode(data: string, kind: 'CODE128' | 'CODE39' = 'CODE128'): this {
    const m = lookup('barcode kind', BARCODE, kind);
    const valid = kind === 'CODE128' ? CODE128B_CHARS : CODE39_CHARS;
    if (!valid.test(data)) {
      throw new EscPosError(`barcode data has characters ${kind} cannot carry`, { kind, length: data.length });
    }
    // '{' introduces code-set switches in Epson's CODE128, so a literal one is sent doubled.
    const body = kind === 'CODE128' ? `{B${data.replaceAll('{', '{{')}` : data;
    if (body.length > 255) {
      throw new EscPosError('barcode data too long', { kind, length: data.length });
    }
    this.push(GS, 0x48, 0x02);
    this.push(GS, 0x6b, m, body.length);
    this.parts.push(Buffer.from(body, 'latin1'));
    return this;
  }

  /** Feed-and-cut (m = 65/66) so the last printed line clears the blade before cutting. */
  cut(kind: 'partial' | 'full' = 'partial'): this {
    return this.push(GS, 0x56, lookup('cut', CUT, kind), 0);
  }

  drawerKick(): this {
    return this.push(ESC, 0x70, 0x00, 0x19, 0xfa);
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
