import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { xorChecksum } from '../../drivers/serial/checksum.js';
import {
  FrameChecksumError,
  FrameError,
  FrameSyntaxError,
  MAX_FRAME_LENGTH,
  dec64,
  enc64,
  encodeFrame,
  isEventSeq,
  parseFrame,
  type Frame,
} from '../../drivers/card-reader/frame.js';

/** Line as the framer hands it over: without CR LF. */
const line = (f: Frame) => encodeFrame(f).slice(0, -2);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('xorChecksum', () => {
  it('matches values worked out by hand', () => {
    // "1,INFO": 0x31 ^ 0x2C = 0x1D; ^ 'I' 0x49 = 0x54; ^ 'N' 0x4E = 0x1A; ^ 'F' 0x46 = 0x5C; ^ 'O' 0x4F = 0x13
    expect(xorChecksum('1,INFO')).toBe('13');
    expect(xorChecksum(Buffer.from('1,INFO', 'ascii'))).toBe('13');
    // "E1,EVENT,CARD_TAPPED" is the same pair-cancelling arithmetic, checked against a Buffer.
    expect(xorChecksum('E1,EVENT,CARD_TAPPED')).toBe(xorChecksum(Buffer.from('E1,EVENT,CARD_TAPPED')));
  });

  it('is two uppercase hex digits, zero-padded', () => {
    expect(xorChecksum('')).toBe('00');
    expect(xorChecksum('AA')).toBe('00');
    expect(xorChecksum('\x0a')).toBe('0A');
    expect(xorChecksum(Buffer.from([0xff]))).toBe('FF');
    expect(xorChecksum('\xfe')).toBe('FE');
  });

  it('is the golden value for the documented frames', () => {
    expect(encodeFrame({ seq: '1', command: 'INFO', fields: [] })).toBe('$1,INFO*13\r\n');
    // "0,NAK,SYNTAX": 30^2C=1C ^4E=52 ^41=13 ^4B=58 ^2C=74 ^53=27 ^59=7E ^4E=30 ^54=64 ^41=25 ^58=7D
    expect(encodeFrame({ seq: '0', command: 'NAK', fields: ['SYNTAX'] })).toBe('$0,NAK,SYNTAX*7D\r\n');
  });
});

const BLOB = Buffer.concat([Buffer.alloc(12, 1), Buffer.alloc(16, 2), Buffer.from('ciphertext bytes')]).toString('base64');
const TOKEN = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);

const roundTrips: [string, Frame][] = [
  ['INFO', { seq: '1', command: 'INFO', fields: [] }],
  ['INFO OK', { seq: '1', command: 'INFO', fields: ['OK', 'SIMVENDOR', 'SR-100', 'SN0001', '1.4.2'] }],
  ['STATUS', { seq: '2', command: 'STATUS', fields: [] }],
  ['STATUS OK', { seq: '2', command: 'STATUS', fields: ['OK', 'IDLE', '0'] }],
  ['READ', { seq: '3', command: 'READ', fields: ['1234', 'CNY', '30000'] }],
  ['READ OK', { seq: '3', command: 'READ', fields: ['OK', '476173******0010', '2812', 'CHIP', TOKEN, BLOB, 'LIMIT'] }],
  ['READ ERR TIMEOUT', { seq: '3', command: 'READ', fields: ['ERR', 'TIMEOUT'] }],
  ['READ ERR CANCELLED', { seq: '3', command: 'READ', fields: ['ERR', 'CANCELLED'] }],
  [
    'READ ERR CARD_READ_FAILED with detail',
    { seq: '3', command: 'READ', fields: ['ERR', 'CARD_READ_FAILED', enc64('chip: no ATR, try again')] },
  ],
  ['READ ERR BUSY', { seq: '3', command: 'READ', fields: ['ERR', 'BUSY'] }],
  ['PIN', { seq: '4', command: 'PIN', fields: ['30000'] }],
  ['PIN OK block', { seq: '4', command: 'PIN', fields: ['OK', Buffer.alloc(8, 0x5a).toString('base64')] }],
  ['PIN OK bypassed', { seq: '4', command: 'PIN', fields: ['OK', 'BYPASSED'] }],
  ['PIN ERR TIMEOUT', { seq: '4', command: 'PIN', fields: ['ERR', 'TIMEOUT'] }],
  ['CANCEL', { seq: '5', command: 'CANCEL', fields: [] }],
  ['CANCEL OK', { seq: '5', command: 'CANCEL', fields: ['OK'] }],
  ['DISPLAY', { seq: '6', command: 'DISPLAY', fields: [enc64('合计 12.34 元'), enc64('请插卡, *$')] }],
  ['DISPLAY empty lines', { seq: '6', command: 'DISPLAY', fields: ['', ''] }],
  ['DISPLAY OK', { seq: '6', command: 'DISPLAY', fields: ['OK'] }],
  ['BEEP', { seq: '7', command: 'BEEP', fields: ['2', '150'] }],
  ['BEEP OK', { seq: '7', command: 'BEEP', fields: ['OK'] }],
  ['RESET', { seq: '999', command: 'RESET', fields: [] }],
  ['RESET OK', { seq: '999', command: 'RESET', fields: ['OK'] }],
  ['NAK with seq', { seq: '12', command: 'NAK', fields: ['CHECKSUM'] }],
  ['NAK seq 0', { seq: '0', command: 'NAK', fields: ['OVERLONG'] }],
  ['event CARD_INSERTED', { seq: 'E1', command: 'EVENT', fields: ['CARD_INSERTED'] }],
  ['event CARD_REMOVED', { seq: 'E2', command: 'EVENT', fields: ['CARD_REMOVED'] }],
  ['event CARD_TAPPED', { seq: 'E998', command: 'EVENT', fields: ['CARD_TAPPED'] }],
  ['event KEY digit', { seq: 'E999', command: 'EVENT', fields: ['KEY', '7'] }],
  ['event KEY ENTER', { seq: 'E3', command: 'EVENT', fields: ['KEY', 'ENTER'] }],
];

describe('encodeFrame / parseFrame', () => {
  it.each(roundTrips)('round-trips %s', (_name, frame) => {
    const wire = encodeFrame(frame);
    expect(wire.endsWith('\r\n')).toBe(true);
    expect(wire).toMatch(/^\$[\x20-\x7E]+\*[0-9A-F]{2}\r\n$/);
    expect(parseFrame(wire.slice(0, -2))).toEqual(frame);
  });

  it('reads text fields back through base64, CJK and reserved characters included', () => {
    const f = parseFrame(line({ seq: '6', command: 'DISPLAY', fields: [enc64('合计 12.34 元'), enc64('a,b*c$d')] }));
    expect(f.fields.map(dec64)).toEqual(['合计 12.34 元', 'a,b*c$d']);
  });

  it('accepts a lowercase checksum', () => {
    expect(parseFrame('$1,INFO*13')).toEqual({ seq: '1', command: 'INFO', fields: [] });
    expect(line({ seq: '8', command: 'STATUS', fields: ['OK', 'IDLE', '1'] })).toBe('$8,STATUS,OK,IDLE,1*1D');
    expect(parseFrame('$8,STATUS,OK,IDLE,1*1d')).toEqual({ seq: '8', command: 'STATUS', fields: ['OK', 'IDLE', '1'] });
  });

  it('keeps the * fill of a masked PAN inside its field and finds the checksum by position', () => {
    const wire = line({ seq: '3', command: 'READ', fields: ['OK', '476173******0010', '2812', 'CHIP', TOKEN, BLOB, 'LIMIT'] });
    expect(wire.indexOf('*')).toBeLessThan(wire.length - 3);
    expect(parseFrame(wire).fields[1]).toBe('476173******0010');
  });

  it('tells events from responses', () => {
    expect(isEventSeq('E1')).toBe(true);
    expect(isEventSeq('E999')).toBe(true);
    for (const seq of ['1', '999', '0', 'E0', 'E1000', 'E01', 'e1', '']) expect(isEventSeq(seq)).toBe(false);
  });
});

describe('parseFrame rejects damaged and malformed lines', () => {
  it('reports a bad checksum as FrameChecksumError with the seq', () => {
    const err = thrown(() => parseFrame('$17,STATUS,OK,IDLE,0*00'));
    expect(err).toBeInstanceOf(FrameChecksumError);
    expect(err).toMatchObject({ code: 'FRAME_CHECKSUM', seq: '17', reason: 'checksum-mismatch' });
  });

  it('reports one flipped bit as a checksum error, not as whatever the byte became', () => {
    const good = line({ seq: '3', command: 'READ', fields: ['OK', '476173******0010', '2812', 'CHIP', TOKEN, BLOB, 'LIMIT'] });
    const damaged = good.slice(0, 30) + String.fromCharCode(good.charCodeAt(30) ^ 0x80) + good.slice(31);
    expect(thrown(() => parseFrame(damaged))).toMatchObject({ code: 'FRAME_CHECKSUM', seq: '3' });
  });

  it('reports a frame without checksum as FrameSyntaxError with the seq', () => {
    const err = thrown(() => parseFrame('$5,READ,1234,CNY,30000'));
    expect(err).toBeInstanceOf(FrameSyntaxError);
    expect(err).toMatchObject({ code: 'FRAME_SYNTAX', seq: '5', reason: 'no-checksum' });
  });

  const withChecksum = (body: string) => `$${body}*${xorChecksum(body)}`;
  const syntaxCases: [string, string, string | undefined, string][] = [
    ['no $', 'INFO*13', undefined, 'no-start'],
    ['empty line', '', undefined, 'no-start'],
    ['one hex digit', '$1,INFO*3', '1', 'no-checksum'],
    ['non-hex checksum', '$1,INFO*G3', '1', 'no-checksum'],
    ['text after checksum', '$1,INFO*13 ', '1', 'no-checksum'],
    ['control byte inside', withChecksum('1,STATUS,OK,ID\tLE,0'), '1', 'not-printable'],
    ['latin1 byte inside', withChecksum('2,INFO,OK,caf\xe9'), '2', 'not-printable'],
    ['star in the seq', withChecksum('3*,INFO'), undefined, 'bad-seq'],
    ['star in the command', withChecksum('3,IN*FO'), '3', 'bad-command'],
    ['second $', withChecksum('4,INFO,$'), '4', 'reserved-char'],
    ['seq 1000', withChecksum('1000,INFO'), undefined, 'bad-seq'],
    ['leading zero seq', withChecksum('01,INFO'), undefined, 'bad-seq'],
    ['negative seq', withChecksum('-1,INFO'), undefined, 'bad-seq'],
    ['empty seq', withChecksum(',INFO'), undefined, 'bad-seq'],
    ['lowercase command', withChecksum('7,info'), '7', 'bad-command'],
    ['no command', withChecksum('7'), undefined, 'bad-command'],
    ['seq 0 on a command', withChecksum('0,INFO'), '0', 'seq-command-mismatch'],
    ['event seq on a response', withChecksum('E5,STATUS,OK,IDLE,0'), 'E5', 'seq-command-mismatch'],
    ['command seq on an event', withChecksum('5,EVENT,CARD_INSERTED'), '5', 'seq-command-mismatch'],
    ['NAK in the event space', withChecksum('E5,NAK,CHECKSUM'), 'E5', 'seq-command-mismatch'],
  ];

  it.each(syntaxCases)('%s -> FRAME_SYNTAX', (_name, text, seq, reason) => {
    const err = thrown(() => parseFrame(text));
    expect(err).toBeInstanceOf(FrameSyntaxError);
    expect(err).toMatchObject({ code: 'FRAME_SYNTAX', seq, reason });
  });

  it('never puts the line into the error message or details', () => {
    const secretish = '$3,READ,OK,476173******0010,2812,CHIP,deadbeef,SECRETBLOB*00';
    const err = thrown(() => parseFrame(secretish)) as FrameError;
    expect(err.message).not.toContain('SECRETBLOB');
    expect(err.message).toContain(String(secretish.length));
    expect(JSON.stringify(err.details)).not.toContain('SECRETBLOB');
    expect(err.details).toEqual({ reason: 'checksum-mismatch', length: secretish.length, seq: '3' });
  });
});

describe('encodeFrame refuses what the peer could not read', () => {
  const cases: [string, Frame, string][] = [
    ['comma in a field', { seq: '1', command: 'DISPLAY', fields: ['a,b', ''] }, 'bad-field'],
    ['dollar in a field', { seq: '1', command: 'DISPLAY', fields: ['$5'] }, 'bad-field'],
    ['CJK in a field', { seq: '1', command: 'DISPLAY', fields: ['合计'] }, 'bad-field'],
    ['CR in a field', { seq: '1', command: 'DISPLAY', fields: ['a\r\n$1,RESET*00'] }, 'bad-field'],
    ['seq out of range', { seq: '1000', command: 'INFO', fields: [] }, 'bad-seq'],
    ['seq with letters', { seq: 'x1', command: 'INFO', fields: [] }, 'bad-seq'],
    ['lowercase command', { seq: '1', command: 'Info', fields: [] }, 'bad-command'],
    ['comma in command', { seq: '1', command: 'READ,1', fields: [] }, 'bad-command'],
    ['seq 0 on a command', { seq: '0', command: 'INFO', fields: [] }, 'seq-command-mismatch'],
    ['NAK for an event', { seq: 'E4', command: 'NAK', fields: ['CHECKSUM'] }, 'seq-command-mismatch'],
    ['over the maximum length', { seq: '1', command: 'DISPLAY', fields: ['A'.repeat(MAX_FRAME_LENGTH)] }, 'overlong'],
  ];

  it.each(cases)('%s -> FRAME_INVALID', (_name, frame, reason) => {
    const err = thrown(() => encodeFrame(frame));
    expect(err).toBeInstanceOf(FrameError);
    expect(err).not.toBeInstanceOf(FrameSyntaxError);
    expect(err).toMatchObject({ code: 'FRAME_INVALID', reason });
  });

  it('accepts a frame of exactly the maximum length', () => {
    const fill = 'A'.repeat(MAX_FRAME_LENGTH - '$1,DISPLAY,*XX'.length);
    expect(line({ seq: '1', command: 'DISPLAY', fields: [fill] })).toHaveLength(MAX_FRAME_LENGTH);
  });
});

describe('enc64 / dec64', () => {
  it('round-trips text, a leading BOM included', () => {
    for (const s of ['', 'Total 12.34', '合计 ¥12.34', '\uFEFFbom', 'a,b*c$d', '😀']) expect(dec64(enc64(s))).toBe(s);
  });

  it('refuses input that is not canonical base64 or not UTF-8', () => {
    expect(thrown(() => dec64('abc'))).toMatchObject({ code: 'FRAME_SYNTAX', reason: 'not-base64' });
    expect(thrown(() => dec64('ab!d'))).toMatchObject({ code: 'FRAME_SYNTAX', reason: 'not-base64' });
    expect(thrown(() => dec64(Buffer.from([0xc3, 0x28]).toString('base64')))).toMatchObject({ code: 'FRAME_SYNTAX', reason: 'not-utf8' });
  });
});

const fieldChar = fc.constantFrom(
  ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => !',*$'.includes(c)),
);
const fieldArb = fc.string({ unit: fieldChar, maxLength: 40 });
const commandArb = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,11}$/);
const validFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    seq: fc.integer({ min: 1, max: 999 }).map(String),
    command: commandArb.filter((c) => c !== 'EVENT'),
    fields: fc.array(fieldArb, { maxLength: 8 }),
  }),
  fc.record({
    seq: fc.integer({ min: 1, max: 999 }).map((n) => `E${n}`),
    command: fc.constant('EVENT'),
    fields: fc.array(fieldArb, { maxLength: 8 }),
  }),
  fc.record({ seq: fc.constant('0'), command: fc.constant('NAK'), fields: fc.array(fieldArb, { maxLength: 2 }) }),
);

/** Valid frames with a few characters replaced, dropped or inserted: reaches every rejection path, not just "no $". */
const mangledLineArb = fc
  .tuple(
    validFrameArb,
    fc.array(
      fc.tuple(fc.nat(), fc.constantFrom('replace', 'delete', 'insert'), fc.string({ unit: 'binary', minLength: 1, maxLength: 2 })),
      { maxLength: 4 },
    ),
  )
  .map(([frame, edits]) => {
    let text = line(frame);
    for (const [at, op, s] of edits) {
      const i = text.length === 0 ? 0 : at % text.length;
      if (op === 'replace') text = text.slice(0, i) + s + text.slice(i + s.length);
      else if (op === 'delete') text = text.slice(0, i) + text.slice(i + 1);
      else text = text.slice(0, i) + s + text.slice(i);
    }
    return text;
  });

describe('properties', () => {
  it('parseFrame throws nothing but FrameError subclasses, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), mangledLineArb), (text) => {
        try {
          const f = parseFrame(text);
          expect(encodeFrame(f).slice(0, -2).toUpperCase()).toBe(text.toUpperCase());
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          expect(['FRAME_CHECKSUM', 'FRAME_SYNTAX']).toContain((err as FrameError).code);
          expect((err as FrameError).details.length).toBe(text.length);
        }
      }),
      { numRuns: 10000 },
    );
  });

  it('encode -> parse is the identity for every valid frame', () => {
    fc.assert(
      fc.property(validFrameArb, (frame) => {
        expect(parseFrame(line(frame))).toEqual(frame);
      }),
      { numRuns: 10000 },
    );
  });
});
