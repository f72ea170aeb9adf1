import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IsoError } from '../../firmware-app/host/iso8583/errors.js';
import { pack, unpack, type IsoMessage, type IsoValue } from '../../firmware-app/host/iso8583/packager.js';
import { HOST_SPEC, type FieldSpec, type FieldType } from '../../firmware-app/host/iso8583/spec.js';
import {
  adviceRequest,
  financialRequest,
  networkRequest,
  reversalRequest,
  settlementRequest,
  voidRequest,
} from '../../firmware-app/host/messages.js';
import { decode, encode, SimCodecError } from '../../sim/host/codec.js';
import { AcquirerRules, classOf } from '../../sim/host/rules.js';

/**
 * The terminal's packager and the simulated host's codec are written separately from
 * docs/protocols/host-iso8583.md. Here each reads the other's bytes, and both read the
 * golden vectors straight out of the document, so a misreading on either side shows.
 */

/** Section 10 of the document: each example's title and its "As one hex string" block. */
function goldenVectors(): { title: string; bytes: Buffer }[] {
  const doc = readFileSync(new URL('../../docs/protocols/host-iso8583.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## 10. Examples'));
  const out: { title: string; bytes: Buffer }[] = [];
  const re = /^### (10\.\d+ [^\n]+)\n[\s\S]*?As one hex string[^\n]*\n\n```text\n([0-9a-f\n]+)```/gm;
  for (const m of section.matchAll(re)) out.push({ title: m[1]!, bytes: Buffer.from(m[2]!.replace(/\n/g, ''), 'hex') });
  return out;
}

function comparable(msg: { mti: string; fields: Map<number, IsoValue> }): [string, [number, string][]] {
  return [msg.mti, [...msg.fields].sort(([a], [b]) => a - b).map(([n, v]) => [n, Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v])];
}

const VECTORS = goldenVectors();

describe('golden vectors of the protocol document, read by both codecs', () => {
  it('the document holds every example of section 10', () => {
    expect(VECTORS.map((v) => v.title.split(' ')[0])).toEqual(Array.from({ length: 18 }, (_, i) => `10.${i + 1}`));
  });

  it.each(VECTORS)('$title decodes to the same fields on both sides and re-encodes to the same bytes', ({ bytes }) => {
    const product = unpack(bytes);
    const sim = decode(bytes);
    expect(comparable(sim)).toEqual(comparable(product));
    expect(encode(product).equals(bytes)).toBe(true);
    expect(pack(sim).equals(bytes)).toBe(true);
  });
});

const ID = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };
const AT = new Date(Date.UTC(2026, 2, 14, 9, 30, 0));
const CARD = {
  entryMode: 'CHIP' as const,
  expiry: '2712',
  encryptedBlob: Buffer.alloc(40, 7),
  iccData: Buffer.from('9f2608aabbccddeeff0011', 'hex'),
};

/** Every request the terminal sends, as its own builders make it. */
const TERMINAL_REQUESTS: IsoMessage[] = [
  financialRequest(ID, { kind: 'sale', stan: '000101', amount: 1101, currency: 'CNY', at: AT, batchNumber: 3, ...CARD }),
  financialRequest(ID, { kind: 'refund', stan: '000102', amount: 500, currency: 'CNY', at: AT, batchNumber: 3, ...CARD }),
  voidRequest(ID, {
    stan: '000103',
    amount: 1101,
    currency: 'CNY',
    at: AT,
    batchNumber: 3,
    original: { mti: '0200', stan: '000101', transmittedAt: '0314093000', rrn: '000000000001' },
  }),
  adviceRequest(ID, {
    stan: '000104',
    amount: 300,
    currency: 'CNY',
    at: AT,
    sentAt: AT,
    repeat: false,
    batchNumber: 3,
    offlineAuthCode: 'Y10104',
    ...CARD,
  }),
  adviceRequest(ID, { stan: '000104', amount: 300, currency: 'CNY', at: AT, sentAt: AT, repeat: true, batchNumber: 3, ...CARD }),
  ...[false, true].map((repeat) =>
    reversalRequest(ID, {
      repeat,
      stan: '000105',
      sentAt: AT,
      processingCode: '000000',
      amount: 1101,
      currency: 'CNY',
      batchNumber: 3,
      original: { mti: '0200', stan: '000101', transmittedAt: '0314093000' },
    }),
  ),
  settlementRequest(ID, {
    stan: '000106',
    at: AT,
    batchNumber: 3,
    totals: { salesCount: 1, salesAmount: 1101, refundsCount: 1, refundsAmount: 500 },
  }),
  networkRequest(ID, { stan: '000107', at: AT, purpose: 'signOn' }),
  networkRequest(ID, { stan: '000108', at: AT, purpose: 'echo' }),
];

describe('each codec reads the other', () => {
  it.each(TERMINAL_REQUESTS.map((m) => ({ mti: m.mti, pc: m.fields.get(3) ?? '-', m })))(
    'the host decodes the terminal $mti (3=$pc), and its answer decodes on the terminal',
    ({ m }) => {
      const bytes = pack(m);
      const seen = decode(bytes);
      expect(comparable(seen)).toEqual(comparable(m));
      expect(encode(seen).equals(bytes)).toBe(true);
      // The host's answer to it, encoded by the host's codec, read by the terminal's packager.
      const answer = new AcquirerRules({}).process(seen, classOf(seen.mti)!, undefined);
      const answerBytes = encode(answer);
      expect(comparable(unpack(answerBytes))).toEqual(comparable(answer));
      expect(pack(unpack(answerBytes)).equals(answerBytes)).toBe(true);
    },
  );

  const FIELDS = Object.keys(HOST_SPEC).map(Number);
  const charset: Record<Exclude<FieldType, 'b'>, string> = {
    n: '0123456789',
    an: 'ABCXYZabcxyz0189 ',
    ans: ' !"#09:@AZ[`az{~',
  };
  const valueArb = (s: FieldSpec): fc.Arbitrary<IsoValue> => {
    const len = s.length === 'fixed' ? fc.constant(s.max) : fc.integer({ min: 0, max: Math.min(s.max, 40) });
    if (s.type === 'b') return len.chain((l) => fc.uint8Array({ minLength: l, maxLength: l }).map((a) => Buffer.from(a)));
    const unit = fc.constantFrom(...charset[s.type]);
    return len.chain((l) => fc.string({ unit, minLength: l, maxLength: l }));
  };
  const messageArb = fc
    .tuple(
      fc.constantFrom('0200', '0210', '0220', '0221', '0230', '0400', '0401', '0410', '0500', '0510', '0800', '0810'),
      fc.tuple(...FIELDS.map((n) => fc.option(valueArb(HOST_SPEC[n]!), { nil: undefined }))),
    )
    .map(([mti, values]) => {
      const fields = new Map<number, IsoValue>();
      values.forEach((v, i) => v !== undefined && fields.set(FIELDS[i]!, v));
      return { mti, fields };
    });

  it('any message of the field table: packed by one, decoded identically by the other', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const fromProduct = pack(m);
        expect(encode(m).equals(fromProduct)).toBe(true);
        expect(comparable(decode(fromProduct))).toEqual(comparable(unpack(fromProduct)));
      }),
      { numRuns: 500 },
    );
  });

  it('damaged bytes: both codecs refuse the same frames', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (m, at, byte) => {
        const bytes = Buffer.from(pack(m));
        bytes[at % bytes.length] = byte;
        const verdict = (f: () => unknown, errType: abstract new (...a: never[]) => Error): boolean => {
          try {
            f();
            return true;
          } catch (err) {
            expect(err).toBeInstanceOf(errType);
            return false;
          }
        };
        expect(verdict(() => decode(bytes), SimCodecError)).toBe(verdict(() => unpack(bytes), IsoError));
      }),
      { numRuns: 1000 },
    );
  });
});
