import { SimError } from '../errors.js';

/**
 * The simulator's own BER-TLV reading and writing (EMV Book 3 annex B), written from
 * docs/protocols/card-reader.md section 10 and shared with nothing in the product: the
 * card builds its ICC data with it and the issuer reads field 55 with it.
 */
export interface SimTlv {
  tag: string;
  value: Buffer;
}

export class SimTlvError extends SimError {
  constructor(problem: string) {
    super('SIM_TLV', `BER-TLV data ${problem}`);
  }
}

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n <= 0xff) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

export function encodeTlv(items: readonly SimTlv[]): Buffer {
  return Buffer.concat(items.flatMap((i) => [Buffer.from(i.tag, 'hex'), lengthBytes(i.value.length), i.value]));
}

/** Top-level data objects, tags as upper-case hex; constructed values (71, 72) are left whole. */
export function decodeTlv(data: Buffer): SimTlv[] {
  const out: SimTlv[] = [];
  let at = 0;
  while (at < data.length) {
    const start = at;
    if ((data[at++]! & 0x1f) === 0x1f) {
      while (at < data.length && data[at]! & 0x80) at++;
      at++;
    }
    if (at >= data.length) throw new SimTlvError('ends inside a tag or before a length');
    const tag = data.subarray(start, at).toString('hex').toUpperCase();
    let len = data[at++]!;
    if (len === 0x81 || len === 0x82) {
      const count = len - 0x80;
      if (at + count > data.length) throw new SimTlvError('ends inside a length');
      len = count === 1 ? data[at]! : data.readUInt16BE(at);
      at += count;
    } else if (len >= 0x80) {
      throw new SimTlvError('has a length form this protocol does not use');
    }
    if (at + len > data.length) throw new SimTlvError('ends inside a value');
    out.push({ tag, value: Buffer.from(data.subarray(at, at + len)) });
    at += len;
  }
  return out;
}
