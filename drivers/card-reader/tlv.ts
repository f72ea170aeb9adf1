import { PosError } from '../base/errors.js';

/**
 * BER-TLV as EMV uses it (EMV Book 3 annex B; docs/protocols/card-reader.md section 10.3):
 * ICC data from the reader and the issuer data of the host's field 55. Bounded on every
 * side: tags of at most 3 bytes, lengths of at most 2 bytes after 81/82, no indefinite
 * length, no padding, nesting at most 4 deep. Anything else is a typed `TlvError` naming
 * the offset and the problem, never a byte of the value.
 */
export interface TlvObject {
  /** Upper-case hex of the tag bytes, e.g. `9F26`. */
  tag: string;
  /** Bit 6 of the first tag byte: the value is itself TLV (templates such as 71 and 72). */
  constructed: boolean;
  value: Buffer;
}

export class TlvError extends PosError {
  constructor(problem: string, offset: number) {
    super('TLV_MALFORMED', `BER-TLV data ${problem} at byte ${offset}`, { problem, offset });
  }
}

const MAX_TAG_BYTES = 3;
const MAX_DEPTH = 4;

function readTag(data: Buffer, at: number): number {
  const first = data[at]!;
  if (first === 0x00 || first === 0xff) throw new TlvError('has padding or a null tag', at);
  let end = at + 1;
  if ((first & 0x1f) === 0x1f) {
    for (;;) {
      if (end >= data.length) throw new TlvError('ends inside a tag', end);
      if (end - at >= MAX_TAG_BYTES) throw new TlvError(`has a tag longer than ${MAX_TAG_BYTES} bytes`, at);
      const b = data[end++]!;
      if ((b & 0x80) === 0) break;
    }
  }
  return end;
}

function readLength(data: Buffer, at: number): { length: number; end: number } {
  if (at >= data.length) throw new TlvError('ends before a length', at);
  const first = data[at]!;
  if (first < 0x80) return { length: first, end: at + 1 };
  const count = first & 0x7f;
  if (count === 0) throw new TlvError('uses the indefinite length form', at);
  if (count > 2) throw new TlvError('has a length of more than 2 bytes', at);
  if (at + 1 + count > data.length) throw new TlvError('ends inside a length', at);
  return { length: count === 1 ? data[at + 1]! : data.readUInt16BE(at + 1), end: at + 1 + count };
}

function parseAt(data: Buffer, depth: number, base: number): TlvObject[] {
  const out: TlvObject[] = [];
  let at = 0;
  while (at < data.length) {
    const tagEnd = readTag(data, at);
    const { length, end } = readLength(data, tagEnd);
    if (end + length > data.length) throw new TlvError('ends inside a value', base + end);
    const constructed = (data[at]! & 0x20) !== 0;
    const value = Buffer.from(data.subarray(end, end + length));
    if (constructed) {
      if (depth >= MAX_DEPTH) throw new TlvError(`nests deeper than ${MAX_DEPTH} levels`, base + at);
      parseAt(value, depth + 1, base + end);
    }
    out.push({ tag: data.subarray(at, tagEnd).toString('hex').toUpperCase(), constructed, value });
    at = end + length;
  }
  return out;
}

/** The top-level objects of `data`; the values of constructed ones are checked to be well-formed too. */
export function parseTlv(data: Buffer): TlvObject[] {
  return parseAt(data, 1, 0);
}

/** The objects inside a constructed one (a template). */
export function children(template: TlvObject): TlvObject[] {
  if (!template.constructed) throw new TlvError(`tag ${template.tag} is primitive`, 0);
  return parseTlv(template.value);
}

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n <= 0xff) return Buffer.from([0x81, n]);
  if (n <= 0xffff) return Buffer.from([0x82, n >> 8, n & 0xff]);
  throw new TlvError('value longer than 65535 bytes', 0);
}

/** The shortest encoding of `items`, in the order given. */
export function encodeTlv(items: readonly Pick<TlvObject, 'tag' | 'value'>[]): Buffer {
  return Buffer.concat(items.flatMap((i) => [Buffer.from(i.tag, 'hex'), lengthBytes(i.value.length), i.value]));
}
