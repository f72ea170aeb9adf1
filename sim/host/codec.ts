import { SimError } from '../errors.js';

/**
 * The simulated host's own ISO 8583 codec, written from docs/protocols/host-iso8583.md
 * sections 2 and 3 alone. It shares nothing with the terminal's packager on purpose: if
 * either side misreads the document, the two disagree and a test sees it.
 */

/** Field values: text for n / an / ans, bytes for b. */
export type WireValue = string | Buffer;

export interface WireMessage {
  mti: string;
  fields: Map<number, WireValue>;
}

/** A frame the host cannot decode (section 1: logged and dropped, never answered). */
export class SimCodecError extends SimError {
  constructor(problem: string) {
    super('SIM_ISO_UNREADABLE', `unreadable ISO 8583 message: ${problem}`, { problem });
  }
}

type Kind = 'n' | 'an' | 'ans' | 'b';
type Len = 'fixed' | 'LL' | 'LLL';

/** Section 3, column by column: type, length kind, max (the exact length when fixed). */
const TABLE: Readonly<Record<number, readonly [Kind, Len, number]>> = {
  3: ['n', 'fixed', 6],
  4: ['n', 'fixed', 12],
  7: ['n', 'fixed', 10],
  11: ['n', 'fixed', 6],
  12: ['n', 'fixed', 6],
  13: ['n', 'fixed', 4],
  14: ['n', 'fixed', 4],
  22: ['n', 'fixed', 3],
  24: ['n', 'fixed', 3],
  25: ['n', 'fixed', 2],
  32: ['n', 'LL', 11],
  37: ['an', 'fixed', 12],
  38: ['an', 'fixed', 6],
  39: ['an', 'fixed', 2],
  41: ['ans', 'fixed', 8],
  42: ['ans', 'fixed', 15],
  44: ['ans', 'LL', 25],
  48: ['b', 'LLL', 999],
  49: ['n', 'fixed', 3],
  52: ['b', 'fixed', 16],
  53: ['b', 'fixed', 12],
  54: ['an', 'LLL', 120],
  55: ['b', 'LLL', 255],
  60: ['ans', 'LLL', 999],
  62: ['b', 'LLL', 999],
  63: ['ans', 'LLL', 999],
  64: ['b', 'fixed', 8],
  70: ['n', 'fixed', 3],
  90: ['n', 'fixed', 42],
  95: ['an', 'fixed', 42],
  128: ['b', 'fixed', 8],
};

/** Section 2.3: the characters each text type allows. */
const ALLOWED: Readonly<Record<Exclude<Kind, 'b'>, RegExp>> = {
  n: /^\d*$/,
  an: /^[A-Za-z0-9 ]*$/,
  ans: /^[\x20-\x7e]*$/,
};

const PREFIX: Readonly<Record<Len, number>> = { fixed: 0, LL: 2, LLL: 3 };

export function isWireField(n: number): boolean {
  return Object.hasOwn(TABLE, n);
}

function entry(n: number): readonly [Kind, Len, number] {
  const e = Object.hasOwn(TABLE, n) ? TABLE[n] : undefined;
  if (!e) throw new SimCodecError(`field ${n} is not in the field table`);
  return e;
}

/** Bit n lives in byte (n - 1) div 8 under mask 0x80 >> ((n - 1) mod 8) (section 2.2). */
function bit(map: Buffer, n: number): boolean {
  return (map[Math.floor((n - 1) / 8)]! & (0x80 >> ((n - 1) % 8))) !== 0;
}

function setBit(map: Buffer, n: number): void {
  const i = Math.floor((n - 1) / 8);
  map[i] = map[i]! | (0x80 >> ((n - 1) % 8));
}

export function encode(msg: WireMessage): Buffer {
  if (!/^\d{4}$/.test(msg.mti)) throw new SimCodecError('MTI must be 4 digits');
  const numbers = [...msg.fields.keys()].sort((a, b) => a - b);
  const secondary = numbers.some((n) => n > 64);
  const map = Buffer.alloc(secondary ? 16 : 8);
  if (secondary) setBit(map, 1);
  const body: Buffer[] = [];
  for (const n of numbers) {
    const [kind, len, max] = entry(n);
    const value = msg.fields.get(n)!;
    let data: Buffer;
    if (kind === 'b') {
      if (typeof value === 'string') throw new SimCodecError(`field ${n} is binary`);
      data = value;
    } else {
      if (typeof value !== 'string' || !ALLOWED[kind].test(value)) throw new SimCodecError(`field ${n} has characters outside ${kind}`);
      data = Buffer.from(value, 'latin1');
    }
    if (len === 'fixed' ? data.length !== max : data.length > max) throw new SimCodecError(`field ${n} has length ${data.length}`);
    setBit(map, n);
    if (len !== 'fixed') body.push(Buffer.from(String(data.length).padStart(PREFIX[len], '0'), 'latin1'));
    body.push(data);
  }
  return Buffer.concat([Buffer.from(msg.mti, 'latin1'), map, ...body]);
}

export function decode(bytes: Buffer): WireMessage {
  let at = 0;
  const take = (count: number, what: string): Buffer => {
    if (at + count > bytes.length) throw new SimCodecError(`message ends inside ${what}`);
    const out = bytes.subarray(at, at + count);
    at += count;
    return out;
  };
  const mti = take(4, 'the MTI').toString('latin1');
  if (!/^\d{4}$/.test(mti)) throw new SimCodecError('MTI must be 4 digits');
  let map = take(8, 'the primary bitmap');
  if (bit(map, 1)) map = Buffer.concat([map, take(8, 'the secondary bitmap')]);
  const present: number[] = [];
  for (let n = 2; n <= map.length * 8; n++) if (bit(map, n)) present.push(n);
  if (map.length === 16 && !present.some((n) => n > 64)) throw new SimCodecError('bit 1 set with an empty secondary bitmap');
  if (present.includes(65)) throw new SimCodecError('bit 65 (tertiary bitmap) is set');
  // Every field is checked against the table first: past an unknown one no offset is known.
  for (const n of present) entry(n);
  const fields = new Map<number, WireValue>();
  for (const n of present) {
    const [kind, len, max] = entry(n);
    let size = max;
    if (len !== 'fixed') {
      const prefix = take(PREFIX[len], `field ${n}`).toString('latin1');
      if (!/^\d+$/.test(prefix) || Number(prefix) > max) throw new SimCodecError(`field ${n} has a bad length prefix`);
      size = Number(prefix);
    }
    const data = take(size, `field ${n}`);
    if (kind === 'b') {
      fields.set(n, Buffer.from(data));
      continue;
    }
    const text = data.toString('latin1');
    if (!ALLOWED[kind].test(text)) throw new SimCodecError(`field ${n} has characters outside ${kind}`);
    fields.set(n, text);
  }
  if (at !== bytes.length) throw new SimCodecError(`${bytes.length - at} bytes after the last field`);
  return { mti, fields };
}

/** Section 2.1: the answer has function + 1 and origin 0 (0221 -> 0230, 0401 -> 0410). */
export function answerMti(request: string): string {
  const fn = Number(request[2]);
  return `${request.slice(0, 2)}${fn + 1}0`;
}
