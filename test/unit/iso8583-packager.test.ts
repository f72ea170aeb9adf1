import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { PosError } from '../../drivers/base/errors.js';
import {
  IsoError,
  IsoLengthError,
  IsoMtiError,
  IsoTrailingBytesError,
  IsoTruncatedError,
  IsoUnknownFieldError,
  IsoValueError,
} from '../../firmware-app/host/iso8583/errors.js';
import {
  describe as describeMessage,
  fmtN,
  pack,
  responseMti,
  unpack,
  type IsoMessage,
  type IsoValue,
} from '../../firmware-app/host/iso8583/packager.js';
import { HOST_SPEC, type FieldSpec, type FieldType } from '../../firmware-app/host/iso8583/spec.js';

const MTIS = ['0200', '0210', '0220', '0221', '0230', '0400', '0401', '0410', '0500', '0510', '0800', '0810'];
const SPEC_FIELDS = Object.keys(HOST_SPEC)
  .map(Number)
  .sort((a, b) => a - b);

function message(mti: string, fields: Record<number, IsoValue>): IsoMessage {
  return {
    mti,
    fields: new Map(
      Object.entries(fields)
        .map(([field, value]) => [Number(field), value] as const)
        .sort(([a], [b]) => a - b),
    ),
  };
}

function specOf(field: number): FieldSpec {
  const fieldSpec = HOST_SPEC[field];
  if (fieldSpec === undefined) throw new Error(`test bug: field ${field} not in HOST_SPEC`);
  return fieldSpec;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

// ---------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------

const charsOf = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
const CHARS: Record<Exclude<FieldType, 'b'>, string[]> = {
  n: charsOf(0x30, 0x39),
  an: [...charsOf(0x30, 0x39), ...charsOf(0x41, 0x5a), ...charsOf(0x61, 0x7a), ' '],
  ans: charsOf(0x20, 0x7e),
};

function valueArb(fieldSpec: FieldSpec): fc.Arbitrary<IsoValue> {
  const lengthArb = fieldSpec.length === 'fixed' ? fc.constant(fieldSpec.max) : fc.integer({ min: 0, max: fieldSpec.max });
  if (fieldSpec.type === 'b') {
    return lengthArb.chain((len) => fc.uint8Array({ minLength: len, maxLength: len }).map((a) => Buffer.from(a)));
  }
  const unit = fc.constantFrom(...CHARS[fieldSpec.type]);
  return lengthArb.chain((len) => fc.string({ unit, minLength: len, maxLength: len }));
}

const messageArb: fc.Arbitrary<IsoMessage> = fc
  .tuple(fc.constantFrom(...MTIS), fc.tuple(...SPEC_FIELDS.map((field) => fc.option(valueArb(specOf(field)), { freq: 2, nil: undefined }))))
  .map(([mti, values]) => {
    const fields = new Map<number, IsoValue>();
    values.forEach((value, i) => {
      const field = SPEC_FIELDS[i];
      if (value !== undefined && field !== undefined) fields.set(field, value);
    });
    return { mti, fields };
  });

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === 'set' && at < out.length) out[at] = m.byte;
    if (m.kind === 'truncate') out = out.subarray(0, at);
    if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    if (m.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
  }
  return out;
}

/** Deep equality on Maps of big Buffers is slow in vitest; hex strings compare fast. */
function comparable(msg: IsoMessage): [string, [number, string][]] {
  return [msg.mti, [...msg.fields].map(([field, value]) => [field, Buffer.isBuffer(value) ? `hex:${value.toString('hex')}` : value])];
}

/** Returns whether the bytes decoded; a decoded message must re-pack to the same bytes. */
function unpackOrIsoError(bytes: Buffer): boolean {
  let decoded: IsoMessage;
  try {
    decoded = unpack(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(IsoError);
    return false;
  }
  expect(pack(decoded).equals(bytes)).toBe(true);
  return true;
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

// 10,000 runs take a few seconds; the default 5 s timeout is too tight for a slow CI box.
const PROPERTY_TIMEOUT = { timeout: 60_000 };

describe('ISO 8583 packager properties', () => {
  it('round-trips every valid message', PROPERTY_TIMEOUT, () => {
    let withSecondaryBitmap = 0;
    let withManyFields = 0;
    fc.assert(
      fc.property(messageArb, (msg) => {
        expect(comparable(unpack(pack(msg)))).toEqual(comparable(msg));
        if ([...msg.fields.keys()].some((field) => field > 64)) withSecondaryBitmap++;
        if (msg.fields.size >= SPEC_FIELDS.length / 3) withManyFields++;
      }),
      { numRuns: 10000 },
    );
    // Guards against a generator that quietly produces empty or primary-only messages.
    expect(withSecondaryBitmap).toBeGreaterThan(1000);
    expect(withManyFields).toBeGreaterThan(1000);
  });

  it('unpacks arbitrary bytes or throws an IsoError', PROPERTY_TIMEOUT, () => {
    const mtiThenAnything = fc
      .tuple(fc.constantFrom(...MTIS), fc.uint8Array({ minLength: 0, maxLength: 300 }))
      .map(([mti, rest]) => Buffer.concat([ascii(mti), rest]));
    const anything = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(fc.oneof(anything, mtiThenAnything), (bytes) => {
        unpackOrIsoError(bytes);
      }),
      { numRuns: 10000 },
    );
  });

  it('unpacks mutated and truncated valid messages or throws an IsoError', PROPERTY_TIMEOUT, () => {
    let decoded = 0;
    let rejected = 0;
    fc.assert(
      fc.property(messageArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (msg, mutations) => {
        if (unpackOrIsoError(mutate(pack(msg), mutations))) decoded++;
        else rejected++;
      }),
      { numRuns: 10000 },
    );
    // Guards against a generator that only ever produces garbage (or only no-op mutations).
    expect(decoded).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------
// Golden vectors
// ---------------------------------------------------------------------------------

const TERMINAL = { 41: 'TERM0001', 42: '000000000000001' };
/** Stand-in for the reader's blob; the packager treats field 48 as opaque bytes. */
const CARD_BLOB = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
/** 9F26 (ARQC, 8 bytes), 9F27 (CID), 9F36 (ATC). */
const ICC = Buffer.from('9F260811223344556677889F2701809F36020012', 'hex');
/** Original 0200: MTI + STAN 000122 + its field 7 + acquirer id + forwarding id. */
const ORIGINAL_DATA = '0200' + '000122' + '0314093000' + '00000000000' + '00000000000';

const CARD_PRESENT = {
  3: '000000',
  4: '000000001234',
  7: '0314093000',
  11: '000123',
  12: '173000',
  13: '0314',
  14: '2712',
  22: '051',
  24: '001',
  25: '00',
  ...TERMINAL,
  48: CARD_BLOB,
  49: '156',
  60: '000001',
};
const SALE = { ...CARD_PRESENT, 55: ICC };
const ADVICE = { ...SALE, 7: '0314094500', 12: '172500' };
const REVERSAL = {
  3: '000000',
  4: '000000001234',
  7: '0314093030',
  11: '000123',
  24: '001',
  ...TERMINAL,
  49: '156',
  60: '000001',
  90: ORIGINAL_DATA,
};
const ANSWER = { 3: '000000', 4: '000000001234', 11: '000123', 24: '001', 39: '00', ...TERMINAL, 49: '156' };

const GOLDEN: { name: string; msg: IsoMessage; hex: string }[] = [
  {
    name: '0200 sale',
    msg: message('0200', SALE),
    hex: [
      '30323030', // MTI "0200"
      // Primary bitmap, bit 1 = MSB of byte 1; bit 1 clear: no secondary bitmap.
      // 32 = 0011 0010 -> 3, 4, 7        3c = 0011 1100 -> 11, 12, 13, 14
      // 05 = 0000 0101 -> 22, 24         80 = 1000 0000 -> 25
      // 00 -> none of 33-40              c1 = 1100 0001 -> 41, 42, 48
      // 82 = 1000 0010 -> 49, 55         10 = 0001 0000 -> 60
      '323c058000c18210',
      '303030303030', // 3  processing code "000000" (sale)
      '303030303030303031323334', // 4  amount "000000001234"
      '30333134303933303030', // 7  "0314093000"
      '303030313233', // 11 STAN "000123"
      '313733303030', // 12 "173000"
      '30333134', // 13 "0314"
      '32373132', // 14 "2712"
      '303531', // 22 "051" chip
      '303031', // 24 NII "001"
      '3030', // 25 "00"
      '5445524d30303031', // 41 "TERM0001"
      '303030303030303030303030303031', // 42 "000000000000001"
      '303136' + '000102030405060708090a0b0c0d0e0f', // 48 LLL "016" + 16 raw bytes
      '313536', // 49 "156"
      '303230' + '9f260811223344556677889f2701809f36020012', // 55 LLL "020" + 20 raw bytes
      '303036' + '303030303031', // 60 LLL "006" + "000001"
    ].join(''),
  },
  {
    name: '0200 sale with PIN (section 10.16)',
    msg: message('0200', {
      ...CARD_PRESENT,
      4: '000000123456',
      52: Buffer.from('64ce3dd1385615ac87b5295121c42ba5', 'hex'),
      53: Buffer.from('123456789012345600000003', 'hex'),
    }),
    hex: [
      '30323030', // MTI "0200"
      // Same bitmap as the sale but byte 7: 98 = 1001 1000 -> 49, 52, 53 (no 55)
      '323c058000c19810',
      '303030303030', // 3
      '303030303030313233343536', // 4  amount "000000123456"
      '30333134303933303030', // 7
      '303030313233', // 11
      '313733303030', // 12
      '30333134', // 13
      '32373132', // 14
      '303531', // 22
      '303031', // 24
      '3030', // 25
      '5445524d30303031', // 41
      '303030303030303030303030303031', // 42
      '303136' + '000102030405060708090a0b0c0d0e0f', // 48
      '313536', // 49
      '64ce3dd1385615ac87b5295121c42ba5', // 52 PIN block, fixed 16 raw bytes
      '123456789012345600000003', // 53 KSN, fixed 12 raw bytes
      '303036' + '303030303031', // 60
    ].join(''),
  },
  {
    name: '0200 refund',
    msg: message('0200', { ...CARD_PRESENT, 3: '200000' }),
    // bitmap 323c058000c18010: as the sale without 55
    hex:
      '30323030323c058000c1801032303030303030303030303030303132333430333134303933303030303030313233313733303030303331' +
      '343237313230353130303130305445524d30303031303030303030303030303030303031303136000102030405060708090a0b0c0d0e' +
      '0f313536303036303030303031',
  },
  {
    name: '0210 sale approved',
    msg: message('0210', { ...ANSWER, 7: '0314093000', 37: '407309000123', 38: 'A1B2C3' }),
    // bitmap 322001000ec08000: 3, 4, 7, 11, 24, 37, 38, 39, 41, 42, 49
    hex:
      '30323130322001000ec080003030303030303030303030303030313233343033313430393330303030303031323330303134303733303930' +
      '303031323341314232433330305445524d30303031303030303030303030303030303031313536',
  },
  {
    name: '0200 void',
    msg: message('0200', {
      3: '020000',
      4: '000000001234',
      7: '0314094000',
      11: '000123',
      12: '174000',
      13: '0314',
      24: '001',
      25: '00',
      37: '407309000122',
      ...TERMINAL,
      49: '156',
      60: '000001',
      90: ORIGINAL_DATA,
    }),
    // bitmap b238018008c08010 0000004000000000: 1 (secondary), 3, 4, 7, 11, 12, 13, 24, 25, 37, 41, 42, 49, 60 | 90
    hex:
      '30323030b238018008c080100000004000000000303230303030303030303030303031323334303331343039343030303030303132333137' +
      '343030303033313430303130303430373330393030303132325445524d30303031303030303030303030303030303031313536303036303030' +
      '303031303230303030303132323033313430393330303030303030303030303030303030303030303030303030',
  },
  {
    name: '0220 advice',
    msg: message('0220', ADVICE),
    // bitmap 323c058000c18210: as the 0200 sale
    hex:
      '30323230323c058000c1821030303030303030303030303030303132333430333134303934353030303030313233313732353030303331' +
      '343237313230353130303130305445524d30303031303030303030303030303030303031303136000102030405060708090a0b0c0d0e' +
      '0f3135363032309f260811223344556677889f2701809f36020012303036303030303031',
  },
  {
    name: '0221 advice repeat',
    msg: message('0221', { ...ADVICE, 7: '0314095000' }),
    hex:
      '30323231323c058000c1821030303030303030303030303030303132333430333134303935303030303030313233313732353030303331' +
      '343237313230353130303130305445524d30303031303030303030303030303030303031303136000102030405060708090a0b0c0d0e' +
      '0f3135363032309f260811223344556677889f2701809f36020012303036303030303031',
  },
  {
    name: '0230 advice response',
    msg: message('0230', { ...ANSWER, 7: '0314095000' }),
    // bitmap 3220010002c08000: 3, 4, 7, 11, 24, 39, 41, 42, 49
    hex:
      '303233303220010002c080003030303030303030303030303030313233343033313430393530303030303031323330303130305445524d' +
      '30303031303030303030303030303030303031313536',
  },
  {
    name: '0400 reversal',
    msg: message('0400', REVERSAL),
    // bitmap b220010000c08010 0000004000000000: 1 (secondary), 3, 4, 7, 11, 24, 41, 42, 49, 60 | 90
    hex:
      '30343030b220010000c080100000004000000000303030303030303030303030303031323334303331343039333033303030303132333030' +
      '315445524d30303031303030303030303030303030303031313536303036303030303031303230303030303132323033313430393330303030' +
      '303030303030303030303030303030303030303030',
  },
  {
    name: '0401 reversal repeat',
    msg: message('0401', { ...REVERSAL, 7: '0314093130' }),
    hex:
      '30343031b220010000c080100000004000000000303030303030303030303030303031323334303331343039333133303030303132333030' +
      '315445524d30303031303030303030303030303030303031313536303036303030303031303230303030303132323033313430393330303030' +
      '303030303030303030303030303030303030303030',
  },
  {
    name: '0410 reversal response',
    msg: message('0410', { ...ANSWER, 7: '0314093130' }),
    hex:
      '303431303220010002c080003030303030303030303030303030313233343033313430393331333030303031323330303130305445524d' +
      '30303031303030303030303030303030303031313536',
  },
  {
    name: '0500 settlement',
    msg: message('0500', {
      7: '0314150000',
      11: '000123',
      24: '001',
      ...TERMINAL,
      60: '000001',
      63: '000012' + '000000045600' + '000001' + '000000001234',
    }),
    // bitmap 0220010000c00012: 7, 11, 24, 41, 42, 60, 63
    hex:
      '303530300220010000c00012303331343135303030303030303132333030315445524d30303031303030303030303030303030303031303036' +
      '303030303031303336303030303132303030303030303435363030303030303031303030303030303031323334',
  },
  {
    name: '0510 settlement response',
    msg: message('0510', { 7: '0314150000', 11: '000123', 24: '001', 39: '00', ...TERMINAL, 60: '000001' }),
    // bitmap 0220010002c00010: 7, 11, 24, 39, 41, 42, 60
    hex:
      '303531300220010002c000103033313431353030303030303031323330303130305445524d3030303130303030303030303030303030303130' +
      '3036303030303031',
  },
  {
    name: '0800 sign-on',
    msg: message('0800', { 7: '0314090000', 11: '000123', 24: '001', 41: 'TERM0001', 70: '001' }),
    hex: [
      '30383030', // MTI "0800"
      // Primary bitmap: 82 = 1000 0010 -> 1 (secondary bitmap follows), 7
      // 20 = 0010 0000 -> 11   01 -> 24   00 00 -> none   80 -> 41   00 00 -> none
      '8220010000800000',
      // Secondary bitmap (bits 65-128): 04 = 0000 0100 -> 70
      '0400000000000000',
      '30333134303930303030', // 7  "0314090000"
      '303030313233', // 11 "000123"
      '303031', // 24 "001"
      '5445524d30303031', // 41 "TERM0001"
      '303031', // 70 "001" sign-on
    ].join(''),
  },
  {
    name: '0800 echo test',
    msg: message('0800', { 7: '0314090000', 11: '000123', 24: '001', 41: 'TERM0001', 70: '301' }),
    // same bitmap as the sign-on; only field 70 differs ("301")
    hex: '3038303082200100008000000400000000000000303331343039303030303030303132333030315445524d30303031333031',
  },
  {
    name: '0810 sign-on response',
    msg: message('0810', { 7: '0314090000', 11: '000123', 24: '001', 39: '00', 41: 'TERM0001', 70: '001' }),
    // bitmap 8220010002800000 0400000000000000: 1, 7, 11, 24, 39, 41 | 70
    hex: '30383130822001000280000004000000000000003033313430393030303030303031323330303130305445524d30303031303031',
  },
];

describe('ISO 8583 golden vectors', () => {
  for (const { name, msg, hex } of GOLDEN) {
    it(`packs ${name}`, () => {
      expect(pack(msg).toString('hex')).toBe(hex);
    });
    it(`unpacks ${name}`, () => {
      expect(unpack(Buffer.from(hex, 'hex'))).toEqual(msg);
    });
  }

  it('answers every request vector with the response MTI of its class', () => {
    expect(['0200', '0220', '0221', '0400', '0401', '0500', '0800'].map(responseMti)).toEqual([
      '0210',
      '0230',
      '0230',
      '0410',
      '0410',
      '0510',
      '0810',
    ]);
  });

  it('prefixes LL fields with 2 ASCII digits counting characters', () => {
    const bytes = pack(message('0210', { 32: '12345678', 44: 'CALL ISSUER' }));
    expect(bytes.subarray(12).toString('latin1')).toBe('0812345678' + '11CALL ISSUER');
  });
});

// ---------------------------------------------------------------------------------
// Typed errors
// ---------------------------------------------------------------------------------

const MINIMAL = pack(message('0800', { 11: '000123' }));
const BITMAP_4 = '1000000000000000';

describe('ISO 8583 typed errors', () => {
  it('all packager errors are PosErrors with a stable code', () => {
    const err = thrown(() => unpack(Buffer.alloc(0)));
    expect(err).toBeInstanceOf(IsoError);
    expect(err).toBeInstanceOf(PosError);
    expect((err as IsoError).code).toBe('ISO_TRUNCATED');
  });

  it('refuses to pack a clear PAN or track 2 (fields 2 and 35 are not in the spec)', () => {
    for (const field of [2, 35]) {
      const err = thrown(() => pack(message('0200', { [field]: '4111111111111111' })));
      expect(err).toBeInstanceOf(IsoUnknownFieldError);
      expect(err).toMatchObject({ code: 'ISO_UNKNOWN_FIELD', details: { field } });
    }
  });

  it('refuses bitmap bits 1 and 65 and numbers outside 2-128 as fields', () => {
    for (const field of [1, 65, 0, 129, 2.5]) {
      expect(thrown(() => pack(message('0800', { [field]: '0' })))).toBeInstanceOf(IsoUnknownFieldError);
    }
  });

  it('rejects an unknown field bit on unpack', () => {
    const field2 = Buffer.concat([ascii('0200'), Buffer.from('4000000000000000', 'hex'), ascii('164111111111111111')]);
    expect(thrown(() => unpack(field2))).toMatchObject({ code: 'ISO_UNKNOWN_FIELD', details: { field: 2 } });
    const field65 = Buffer.concat([ascii('0800'), Buffer.from('80000000000000008000000000000000', 'hex')]);
    expect(thrown(() => unpack(field65))).toMatchObject({ code: 'ISO_UNKNOWN_FIELD', details: { field: 65 } });
  });

  it('rejects a bad length prefix on unpack', () => {
    const nonDigit = Buffer.concat([ascii('0210'), Buffer.from('0000000000100000', 'hex'), ascii('1x')]);
    expect(thrown(() => unpack(nonDigit))).toMatchObject({ code: 'ISO_BAD_LENGTH', details: { field: 44 } });
    expect(thrown(() => unpack(nonDigit))).toBeInstanceOf(IsoLengthError);
    const overMax = Buffer.concat([ascii('0210'), Buffer.from('0000000100000000', 'hex'), ascii('12123456789012')]);
    expect(thrown(() => unpack(overMax))).toMatchObject({ code: 'ISO_BAD_LENGTH', details: { field: 32 } });
  });

  it('rejects a variable field longer than its maximum on pack', () => {
    const err = thrown(() => pack(message('0210', { 44: 'X'.repeat(26) })));
    expect(err).toBeInstanceOf(IsoLengthError);
    expect(err).toMatchObject({ details: { field: 44 } });
    expect(() => pack(message('0210', { 44: 'X'.repeat(25) }))).not.toThrow();
  });

  it('reports where a message is truncated', () => {
    expect(thrown(() => unpack(ascii('02')))).toMatchObject({ code: 'ISO_TRUNCATED', details: { part: 'MTI' } });
    expect(thrown(() => unpack(MINIMAL.subarray(0, 9)))).toMatchObject({ details: { part: 'bitmap' } });
    const noSecondary = Buffer.concat([ascii('0800'), Buffer.from('8000000000000000', 'hex')]);
    expect(thrown(() => unpack(noSecondary))).toMatchObject({ details: { part: 'bitmap' } });
    const err = thrown(() => unpack(MINIMAL.subarray(0, MINIMAL.length - 1)));
    expect(err).toBeInstanceOf(IsoTruncatedError);
    expect(err).toMatchObject({ details: { part: 'field', field: 11, needed: 6, available: 5 } });
  });

  it('rejects bytes after the last field', () => {
    const err = thrown(() => unpack(Buffer.concat([MINIMAL, Buffer.from([0x30, 0x30])])));
    expect(err).toBeInstanceOf(IsoTrailingBytesError);
    expect(err).toMatchObject({ code: 'ISO_TRAILING_BYTES', details: { count: 2 } });
  });

  it('rejects an MTI that is not 4 digits', () => {
    const err = thrown(() => unpack(Buffer.concat([ascii('08x0'), MINIMAL.subarray(4)])));
    expect(err).toBeInstanceOf(IsoMtiError);
    expect(err).toMatchObject({ code: 'ISO_BAD_MTI' });
    expect(thrown(() => pack(message('800', {})))).toBeInstanceOf(IsoMtiError);
    expect(thrown(() => pack(message('０８００', {})))).toBeInstanceOf(IsoMtiError);
  });

  it('rejects values that do not match the field type or fixed length on pack', () => {
    const cases: [number, IsoValue][] = [
      [4, '00000000123A'], // n with a letter
      [4, '1234'], // fixed n too short: callers pad with fmtN
      [41, 'TERM001'], // fixed ans too short: callers padEnd
      [41, 'TERM\n001'], // ans with a control character
      [39, '0-'], // an with a symbol
      [42, '00000000000000é'], // ans outside ASCII
      [48, 'not a buffer'], // b needs a Buffer
      [52, Buffer.alloc(7)], // fixed b has an exact byte length
      [3, Buffer.from('000000')], // text field given a Buffer
    ];
    for (const [field, value] of cases) {
      const err = thrown(() => pack(message('0200', { [field]: value })));
      expect(err, `field ${field}`).toBeInstanceOf(IsoValueError);
      expect(err).toMatchObject({ code: 'ISO_BAD_VALUE', details: { field } });
    }
  });

  it('rejects content that does not match the field type on unpack', () => {
    const bytes = Buffer.concat([ascii('0810'), Buffer.from('0000000002000000', 'hex'), ascii('0!')]);
    expect(thrown(() => unpack(bytes))).toMatchObject({ code: 'ISO_BAD_VALUE', details: { field: 39 } });
  });

  it('rejects a secondary bitmap flag with no field 65-128 (non-canonical)', () => {
    const bytes = Buffer.concat([ascii('0800'), Buffer.from('80200000000000000000000000000000', 'hex'), ascii('000123')]);
    expect(thrown(() => unpack(bytes))).toMatchObject({ code: 'ISO_BAD_VALUE', details: { field: 1 } });
  });

  it('never puts a field value in an error message or details', () => {
    const secret = '4111111111111111';
    const errors = [
      thrown(() => pack(message('0200', { 2: secret }))),
      thrown(() => pack(message('0200', { 62: `${secret}\u0000` }))),
      thrown(() => pack(message('0200', { 4: secret }))),
      thrown(() => unpack(Buffer.concat([ascii('0200'), Buffer.from(BITMAP_4, 'hex'), ascii('41111111111X')]))),
    ];
    for (const err of errors) {
      expect(err).toBeInstanceOf(IsoError);
      const { message: text, details } = err as IsoError;
      expect(`${text} ${JSON.stringify(details)}`).not.toContain('411111');
    }
  });
});

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

describe('responseMti', () => {
  it('maps requests, advices and their repeats to the response of their class', () => {
    expect(responseMti('0200')).toBe('0210');
    expect(responseMti('0220')).toBe('0230');
    expect(responseMti('0221')).toBe('0230');
    expect(responseMti('0401')).toBe('0410');
  });

  it('rejects responses and malformed MTIs', () => {
    for (const mti of ['0210', '0230', '0810', '0202', '200', 'abcd']) {
      expect(
        thrown(() => responseMti(mti)),
        mti,
      ).toBeInstanceOf(IsoMtiError);
    }
  });
});

describe('fmtN', () => {
  it('left-pads numbers, bigints and digit strings with zeros', () => {
    expect(fmtN(1234, 12)).toBe('000000001234');
    expect(fmtN(123n, 6)).toBe('000123');
    expect(fmtN('42', 3)).toBe('042');
    expect(fmtN(0, 2)).toBe('00');
    expect(fmtN(999999, 6)).toBe('999999');
  });

  it('throws IsoValueError for values that do not fit or are not non-negative integers', () => {
    const bad: [number | bigint | string, number][] = [
      [1000000, 6],
      [-1, 6],
      [-1n, 6],
      [1.5, 6],
      [Number.NaN, 6],
      [2 ** 53, 20],
      ['12a', 6],
      ['', 6],
      ['-1', 6],
    ];
    for (const [value, len] of bad) {
      expect(
        thrown(() => fmtN(value, len)),
        String(value),
      ).toBeInstanceOf(IsoValueError);
    }
  });
});

describe('describe', () => {
  it('renders text fields and only the size of binary fields', () => {
    const text = describeMessage(message('0200', { 11: '000123', 48: CARD_BLOB, 52: Buffer.alloc(8, 0xab) }));
    expect(text).toBe('0200 11="000123" 48=<16 bytes> 52=<8 bytes>');
  });

  it('hides the value of a field the spec does not know', () => {
    expect(describeMessage(message('0200', { 2: '4111111111111111' }))).toBe('0200 2=<16 chars>');
  });
});

describe('HOST_SPEC', () => {
  it('has no PAN or track field and consistent length limits', () => {
    expect(HOST_SPEC[2]).toBeUndefined();
    expect(HOST_SPEC[35]).toBeUndefined();
    for (const field of SPEC_FIELDS) {
      const { length, max } = specOf(field);
      expect(max, `field ${field}`).toBeLessThanOrEqual(length === 'LL' ? 99 : 999);
    }
  });
});

describe('unpack', () => {
  it('decodes binary fields into copies that do not alias the input', () => {
    const bytes = pack(message('0200', { 48: CARD_BLOB }));
    const decoded = unpack(bytes);
    bytes.fill(0xff, 12);
    expect(decoded.fields.get(48)).toEqual(CARD_BLOB);
  });
});
