import { describe, expect, it } from 'vitest';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { financialRequest, networkRequest, reversalRequest, settlementRequest, voidRequest } from '../../firmware-app/host/messages.js';
import { ANSWER_RULES, answerTrace, checkAnswer } from '../../firmware-app/host/validate.js';

const ID = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };
const AT = new Date(Date.UTC(2026, 2, 14, 9, 30, 0));
const SALE = financialRequest(ID, {
  kind: 'sale',
  stan: '000123',
  amount: 1101,
  currency: 'CNY',
  at: AT,
  entryMode: 'CHIP',
  expiry: '2712',
  encryptedBlob: Buffer.alloc(32, 1),
  batchNumber: 1,
});

/** The answer a host following the document sends: echo fields copied, plus `extra`. */
function answer(request: IsoMessage, mti: string, extra: Record<number, string>): IsoMessage {
  const fields = new Map<number, string | Buffer>();
  for (const n of [...ANSWER_RULES[mti]!.echo, 7]) {
    const v = request.fields.get(n);
    if (v !== undefined) fields.set(n, v);
  }
  for (const [n, v] of Object.entries(extra)) fields.set(Number(n), v);
  return { mti, fields };
}

function without(msg: IsoMessage, ...fields: number[]): IsoMessage {
  const copy = new Map(msg.fields);
  for (const n of fields) copy.delete(n);
  return { mti: msg.mti, fields: copy };
}

function withField(msg: IsoMessage, n: number, v: string): IsoMessage {
  return { mti: msg.mti, fields: new Map(msg.fields).set(n, v) };
}

const APPROVAL = answer(SALE, '0210', { 37: '000000000001', 38: 'A00001', 39: '00' });

describe('checking a 0210 against its 0200', () => {
  it('accepts a faithful approval and a faithful decline without 37 and 38', () => {
    expect(checkAnswer(SALE, APPROVAL)).toEqual([]);
    expect(checkAnswer(SALE, answer(SALE, '0210', { 39: '51' }))).toEqual([]);
  });

  it.each([
    ['amount 12.01 for 11.01', 4, '000000001201'],
    ['currency 840 for 156', 49, '840'],
    ['processing code 200000 (refund) for a sale', 3, '200000'],
    ['another merchant id', 42, '000000000000002'],
    ['another terminal id', 41, 'TERM0002'],
    ['another NII', 24, '002'],
  ])('refuses an approval with %s', (_what, field, value) => {
    expect(checkAnswer(SALE, withField(APPROVAL, field, value))).toEqual([{ field, kind: 'changed' }]);
  });

  it.each([4, 49, 37, 38])('refuses an approval without field %i', (field) => {
    expect(checkAnswer(SALE, without(APPROVAL, field))).toEqual([{ field, kind: 'missing' }]);
  });

  it('refuses an approval whose RRN or approval code is blank', () => {
    expect(checkAnswer(SALE, withField(withField(APPROVAL, 37, ' '.repeat(12)), 38, '      '))).toEqual([
      { field: 37, kind: 'missing' },
      { field: 38, kind: 'missing' },
    ]);
  });

  it('refuses a 0210 with no response code, or one that is not two digits or capitals', () => {
    expect(checkAnswer(SALE, without(APPROVAL, 39))).toEqual([{ field: 39, kind: 'missing' }]);
    expect(checkAnswer(SALE, withField(APPROVAL, 39, ' 0'))).toEqual([{ field: 39, kind: 'format' }]);
  });

  it('requires field 7 as a real MMDDhhmmss, without requiring it to equal the request (a repeat has its own)', () => {
    expect(checkAnswer(SALE, withField(APPROVAL, 7, '0314093001'))).toEqual([]);
    expect(checkAnswer(SALE, withField(APPROVAL, 7, '1332250000'))).toEqual([{ field: 7, kind: 'format' }]);
    expect(checkAnswer(SALE, without(APPROVAL, 7))).toEqual([{ field: 7, kind: 'missing' }]);
  });

  it('refuses fields a 0210 never carries, and a field 90 the request did not send', () => {
    expect(checkAnswer(SALE, withField(APPROVAL, 12, '173000'))).toEqual([{ field: 12, kind: 'unexpected' }]);
    expect(checkAnswer(SALE, withField(APPROVAL, 90, '0'.repeat(42)))).toEqual([{ field: 90, kind: 'unexpected' }]);
  });

  it('a void: field 90 may be left out of the answer, and when echoed must be unchanged', () => {
    const v = voidRequest(ID, {
      stan: '000124',
      amount: 1101,
      currency: 'CNY',
      at: AT,
      batchNumber: 1,
      original: { mti: '0200', stan: '000123', transmittedAt: '0314093000', rrn: '000000000001' },
    });
    const ok = answer(v, '0210', { 37: '000000000002', 38: 'A00002', 39: '00' });
    expect(checkAnswer(v, ok)).toEqual([]);
    expect(checkAnswer(v, withField(ok, 90, v.fields.get(90) as string))).toEqual([]);
    expect(checkAnswer(v, withField(ok, 90, `0200000122${'0'.repeat(32)}`))).toEqual([{ field: 90, kind: 'changed' }]);
  });
});

describe('checking the other answers', () => {
  const reversal = reversalRequest(ID, {
    repeat: true,
    stan: '000125',
    sentAt: AT,
    processingCode: '000000',
    amount: 1101,
    currency: 'CNY',
    batchNumber: 1,
    original: { mti: '0200', stan: '000123', transmittedAt: '0314093000' },
  });

  it('a 0410 acknowledges only with the reversal echoed unchanged', () => {
    const ok = answer(reversal, '0410', { 39: '00' });
    expect(checkAnswer(reversal, ok)).toEqual([]);
    expect(checkAnswer(reversal, withField(ok, 4, '000000000001'))).toEqual([{ field: 4, kind: 'changed' }]);
    expect(checkAnswer(reversal, without(ok, 39))).toEqual([{ field: 39, kind: 'missing' }]);
  });

  it('a 0510 echoes the batch and a 0810 the network code', () => {
    const settle = settlementRequest(ID, {
      stan: '000126',
      at: AT,
      batchNumber: 1,
      totals: { salesCount: 1, salesAmount: 1101, refundsCount: 0, refundsAmount: 0 },
    });
    expect(checkAnswer(settle, answer(settle, '0510', { 39: '00' }))).toEqual([]);
    expect(checkAnswer(settle, withField(answer(settle, '0510', { 39: '00' }), 60, '000002'))).toEqual([{ field: 60, kind: 'changed' }]);
    const signOn = networkRequest(ID, { stan: '000127', at: AT, purpose: 'signOn' });
    expect(checkAnswer(signOn, answer(signOn, '0810', { 39: '00' }))).toEqual([]);
    expect(checkAnswer(signOn, withField(answer(signOn, '0810', { 39: '00' }), 70, '301'))).toEqual([{ field: 70, kind: 'changed' }]);
  });

  it('an MTI the terminal never expects is refused outright', () => {
    expect(checkAnswer(SALE, { mti: '0110', fields: new Map() })).toEqual([{ field: null, kind: 'unknown-answer' }]);
  });
});

describe('the debug trace of an answer', () => {
  it('carries response code, text, approval code and RRN, and never a run of card-number digits', () => {
    const withText = withField(APPROVAL, 44, 'CARD 4761739001010119 OK');
    expect(answerTrace(withText)).toEqual({
      mti: '0210',
      responseCode: '00',
      text: 'CARD [digits] OK',
      authCode: 'A00001',
      rrn: '000000000001',
    });
    expect(JSON.stringify(answerTrace(withField(APPROVAL, 44, '4761739001010119')))).not.toMatch(/\d{12}\d/);
  });
});
