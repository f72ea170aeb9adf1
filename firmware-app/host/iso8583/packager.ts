import { IsoLengthError, IsoMtiError, IsoTrailingBytesError, IsoTruncatedError, IsoUnknownFieldError, IsoValueError } from './errors.js';
import { HOST_SPEC, type FieldSpec, type FieldType, type IsoSpec, type LengthKind } from './spec.js';

/** Buffer for type b fields, string for n / an / ans. */
export type IsoValue = string | Buffer;

export interface IsoMessage {
  mti: string;
  fields: Map<number, IsoValue>;
}

const MTI_PATTERN = /^[0-9]{4}$/;
const BITMAP_BYTES = 8;
const SECONDARY_BITMAP_BIT = 1;
const TERTIARY_BITMAP_BIT = 65;
const PREFIX_DIGITS: Readonly<Record<LengthKind, number>> = { fixed: 0, LL: 2, LLL: 3 };
const CHARSET: Readonly<Record<Exclude<FieldType, 'b'>, RegExp>> = {
  n: /^[0-9]*$/,
  an: /^[0-9A-Za-z ]*$/,
  ans: /^[\x20-\x7e]*$/,
};
const CHARSET_NAME: Readonly<Record<Exclude<FieldType, 'b'>, string>> = {
  n: 'digits',
  an: 'letters, digits and spaces',
  ans: 'printable ASCII',
};

export function pack(msg: IsoMessage, spec: IsoSpec = HOST_SPEC): Buffer {
  checkMti(msg.mti);
  const entries = [...msg.fields]
    .map(([field, value]) => ({ field, value, fieldSpec: specFor(spec, field) }))
    .sort((a, b) => a.field - b.field);

  const hasSecondary = entries.some(({ field }) => field > 64);
  const bitmap = Buffer.alloc(hasSecondary ? 2 * BITMAP_BYTES : BITMAP_BYTES);
  if (hasSecondary) setBit(bitmap, SECONDARY_BITMAP_BIT);

  const parts: Buffer[] = [Buffer.from(msg.mti, 'latin1'), bitmap];
  for (const { field, value, fieldSpec } of entries) {
    setBit(bitmap, field);
    parts.push(encodeField(field, fieldSpec, value));
  }
  return Buffer.concat(parts);
}

export function unpack(bytes: Buffer, spec: IsoSpec = HOST_SPEC): IsoMessage {
  const cursor = new Cursor(bytes);
  const mti = cursor.take(4, 'MTI').toString('latin1');
  if (!MTI_PATTERN.test(mti)) throw new IsoMtiError('MTI must be 4 ASCII digits');

  const primary = cursor.take(BITMAP_BYTES, 'bitmap');
  const bitmap = isSet(primary, SECONDARY_BITMAP_BIT) ? Buffer.concat([primary, cursor.take(BITMAP_BYTES, 'bitmap')]) : primary;

  const present: number[] = [];
  for (let field = SECONDARY_BITMAP_BIT + 1; field <= bitmap.length * 8; field++) {
    if (isSet(bitmap, field)) present.push(field);
  }
  // pack never emits an empty secondary bitmap; refusing one keeps the encoding
  // canonical, so every accepted message re-packs to exactly the bytes received.
  if (bitmap.length > BITMAP_BYTES && !present.some((field) => field > 64)) {
    throw new IsoValueError(SECONDARY_BITMAP_BIT, 'secondary bitmap flagged but no field 65-128 is present');
  }
  // Every bit is checked before any field is decoded: with an unknown field the
  // offsets of the following fields cannot be known.
  const layout = present.map((field) => ({ field, fieldSpec: specFor(spec, field) }));

  const fields = new Map<number, IsoValue>();
  for (const { field, fieldSpec } of layout) fields.set(field, decodeField(cursor, field, fieldSpec));
  if (cursor.remaining > 0) throw new IsoTrailingBytesError(cursor.remaining);
  return { mti, fields };
}

/**
 * The MTI that answers a request or advice: function digit + 1, origin reset to 0,
 * so repeats (xx21, xx01) are answered like the originals ('0221' -> '0230').
 */
export function responseMti(mti: string): string {
  checkMti(mti);
  const fn = mti.charAt(2);
  const origin = mti.charAt(3);
  if ((fn !== '0' && fn !== '2') || (origin !== '0' && origin !== '1')) {
    throw new IsoMtiError(`${mti} is not a request or advice sent by the acquirer side`);
  }
  return `${mti.slice(0, 2)}${Number(fn) + 1}0`;
}

/** Left zero-pads a non-negative integer to exactly `len` digits. */
export function fmtN(value: number | bigint | string, len: number): string {
  const digits = toDigits(value);
  if (digits === undefined || !Number.isInteger(len) || digits.length > len) {
    throw new IsoValueError(undefined, `value is not a non-negative integer of at most ${len} digits`);
  }
  return digits.padStart(len, '0');
}

/**
 * One line for logs. Text fields are shown only when the spec says they are text
 * fields; binary fields, and anything the spec does not know (a message that failed
 * to pack may hold a field 2 someone should not have set), show only their size.
 */
export function describe(msg: IsoMessage, spec: IsoSpec = HOST_SPEC): string {
  const rendered = [...msg.fields].sort(([a], [b]) => a - b).map(([field, value]) => `${field}=${renderValue(spec, field, value)}`);
  return [msg.mti, ...rendered].join(' ');
}

function renderValue(spec: IsoSpec, field: number, value: IsoValue): string {
  if (typeof value !== 'string') return `<${value.length} bytes>`;
  const fieldSpec = Object.hasOwn(spec, field) ? spec[field] : undefined;
  return fieldSpec !== undefined && fieldSpec.type !== 'b' ? JSON.stringify(value) : `<${value.length} chars>`;
}

function checkMti(mti: string): void {
  if (typeof mti !== 'string' || !MTI_PATTERN.test(mti)) throw new IsoMtiError('MTI must be 4 ASCII digits');
}

function specFor(spec: IsoSpec, field: number): FieldSpec {
  const isDataField = Number.isInteger(field) && field > SECONDARY_BITMAP_BIT && field <= 128 && field !== TERTIARY_BITMAP_BIT;
  const fieldSpec = isDataField && Object.hasOwn(spec, field) ? spec[field] : undefined;
  if (fieldSpec === undefined) throw new IsoUnknownFieldError(field);
  return fieldSpec;
}

function encodeField(field: number, fieldSpec: FieldSpec, value: IsoValue): Buffer {
  const data = encodeData(field, fieldSpec, value);
  const unit = fieldSpec.type === 'b' ? 'bytes' : 'characters';
  if (fieldSpec.length === 'fixed') {
    if (data.length !== fieldSpec.max) {
      throw new IsoValueError(field, `must be exactly ${fieldSpec.max} ${unit}, got ${data.length}`);
    }
    return data;
  }
  if (data.length > fieldSpec.max) {
    throw new IsoLengthError(field, `at most ${fieldSpec.max} ${unit} allowed, got ${data.length}`);
  }
  return Buffer.concat([Buffer.from(fmtN(data.length, PREFIX_DIGITS[fieldSpec.length]), 'latin1'), data]);
}

function encodeData(field: number, fieldSpec: FieldSpec, value: IsoValue): Buffer {
  if (fieldSpec.type === 'b') {
    if (!Buffer.isBuffer(value)) throw new IsoValueError(field, 'binary field needs a Buffer');
    return value;
  }
  if (typeof value !== 'string') throw new IsoValueError(field, 'text field needs a string');
  checkCharset(field, fieldSpec.type, value);
  return Buffer.from(value, 'latin1');
}

function decodeField(cursor: Cursor, field: number, fieldSpec: FieldSpec): IsoValue {
  const length = fieldSpec.length === 'fixed' ? fieldSpec.max : readLengthPrefix(cursor, field, fieldSpec);
  const data = cursor.take(length, 'field', field);
  // Copied so a decoded message does not alias (and keep alive) the receive buffer.
  if (fieldSpec.type === 'b') return Buffer.from(data);
  const text = data.toString('latin1');
  checkCharset(field, fieldSpec.type, text);
  return text;
}

function readLengthPrefix(cursor: Cursor, field: number, fieldSpec: FieldSpec): number {
  const prefix = cursor.take(PREFIX_DIGITS[fieldSpec.length], 'field', field).toString('latin1');
  if (!CHARSET.n.test(prefix)) throw new IsoLengthError(field, 'length prefix is not ASCII digits');
  const length = Number(prefix);
  if (length > fieldSpec.max) throw new IsoLengthError(field, `length ${length} exceeds maximum ${fieldSpec.max}`);
  return length;
}

function checkCharset(field: number, type: Exclude<FieldType, 'b'>, text: string): void {
  if (!CHARSET[type].test(text)) throw new IsoValueError(field, `${type} field must contain only ${CHARSET_NAME[type]}`);
}

function toDigits(value: number | bigint | string): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? String(value) : undefined;
  if (typeof value === 'bigint') return value >= 0n ? value.toString() : undefined;
  return typeof value === 'string' && /^[0-9]+$/.test(value) ? value : undefined;
}

/** Bit 1 is the most significant bit of the first bitmap byte. */
function bitPosition(field: number): { byte: number; mask: number } {
  return { byte: (field - 1) >> 3, mask: 0x80 >> ((field - 1) & 7) };
}

function setBit(bitmap: Buffer, field: number): void {
  const { byte, mask } = bitPosition(field);
  bitmap[byte] = (bitmap[byte] ?? 0) | mask;
}

function isSet(bitmap: Buffer, field: number): boolean {
  const { byte, mask } = bitPosition(field);
  return ((bitmap[byte] ?? 0) & mask) !== 0;
}

class Cursor {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  take(count: number, part: string, field?: number): Buffer {
    if (count > this.remaining) throw new IsoTruncatedError(part, count, this.remaining, field);
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }
}
