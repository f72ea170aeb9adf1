import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { children, encodeTlv, parseTlv, TlvError, type TlvObject } from '../../drivers/card-reader/tlv.js';

/**
 * The BER-TLV parser reads ICC data from the reader and issuer data from the host: bytes
 * from outside. Whatever they are, it returns objects that re-encode to a prefix-free
 * reading of the input, or a TlvError (TLV_MALFORMED) with an offset, never another
 * exception and never a value in its message.
 */
const RUNS = 10_000;

function outcome(bytes: Buffer): TlvObject[] | TlvError {
  try {
    return parseTlv(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(TlvError);
    expect((err as TlvError).code).toBe('TLV_MALFORMED');
    expect((err as TlvError).message).not.toMatch(/[0-9A-F]{8}/i);
    return err as TlvError;
  }
}

/** Tags EMV uses: one byte (not 1F-style), two bytes (first ends 1F, second below 0x80), constructed or not. */
const tag = fc.oneof(
  fc.integer({ min: 0x01, max: 0xfe }).filter((b) => (b & 0x1f) !== 0x1f),
  fc.tuple(
    fc.integer({ min: 0, max: 7 }).map((h) => (h << 5) | 0x1f),
    fc.integer({ min: 0x01, max: 0x7f }),
  ),
);
const tagHex = tag.map((t) => (Array.isArray(t) ? Buffer.from(t) : Buffer.from([t])).toString('hex').toUpperCase());
const primitiveTag = tagHex.filter((t) => (parseInt(t.slice(0, 2), 16) & 0x20) === 0);
const object = fc.record({ tag: primitiveTag, value: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) });

describe('BER-TLV parser, fuzzed', () => {
  it(`any bytes (${RUNS} cases): objects or a typed error`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (a) => {
        const result = outcome(Buffer.from(a));
        if (!(result instanceof TlvError)) expect(parseTlv(encodeTlv(result))).toEqual(result);
      }),
      { numRuns: RUNS },
    );
  });

  it(`well-formed data (${RUNS} cases) parses back to what was encoded`, () => {
    fc.assert(
      fc.property(fc.array(object, { maxLength: 12 }), (items) => {
        const parsed = parseTlv(encodeTlv(items));
        expect(parsed.map((p) => ({ tag: p.tag, value: p.value }))).toEqual(items);
      }),
      { numRuns: RUNS },
    );
  });

  it(`well-formed data cut or damaged anywhere (${RUNS} cases): objects or a typed error`, () => {
    fc.assert(
      fc.property(fc.array(object, { minLength: 1, maxLength: 6 }), fc.nat(), fc.nat({ max: 255 }), (items, cut, byte) => {
        const bytes = encodeTlv(items);
        outcome(bytes.subarray(0, cut % bytes.length));
        const damaged = Buffer.from(bytes);
        damaged[cut % bytes.length] = byte;
        outcome(damaged);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('BER-TLV parser, the forms it refuses', () => {
  it.each([
    ['00', 'padding'],
    ['9F', 'ends inside a tag'],
    ['9F8181810100', 'tag longer than 3 bytes'],
    ['9F26', 'ends before a length'],
    ['9F2680', 'indefinite length'],
    ['9F2683010000', 'more than 2 bytes'],
    ['9F2608AABB', 'ends inside a value'],
    ['710A86', 'ends inside a value'],
    ['7106' + '7104' + '7102' + '7100', 'nests deeper'],
  ])('%s: %s', (hex, problem) => {
    const result = outcome(Buffer.from(hex, 'hex'));
    expect(result).toBeInstanceOf(TlvError);
    expect((result as TlvError).message).toContain(problem);
  });

  it('reads an issuer script template and its commands', () => {
    const script = Buffer.from('720F9F180400000001860684DA00CB0100', 'hex');
    const [template] = parseTlv(script);
    expect(template).toMatchObject({ tag: '72', constructed: true });
    expect(children(template!).map((c) => c.tag)).toEqual(['9F18', '86']);
    expect(encodeTlv(parseTlv(script))).toEqual(script);
  });
});
