// Fields 12 and 13 are terminal local time; the protocol document's examples are at UTC+8.
process.env.TZ = 'Asia/Shanghai';

import { describe, expect, it } from 'vitest';
import { pack, unpack } from '../../firmware-app/host/iso8583/packager.js';
import {
  adviceRequest,
  financialRequest,
  formatSettlementTotals,
  networkRequest,
  originalDataElements,
  parseOriginalDataElements,
  parseSettlementTotals,
  reversalRequest,
  settlementRequest,
  voidRequest,
  type TerminalIdentity,
} from '../../firmware-app/host/messages.js';

/**
 * The builders other parts call must produce, byte for byte, the golden vectors of
 * docs/protocols/host-iso8583.md section 10 (the same bytes as iso8583-packager.test.ts).
 */
const ID: TerminalIdentity = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };
const BLOB = Buffer.from(Array.from({ length: 16 }, (_, i) => i));
const ICC = Buffer.from('9F260811223344556677889F2701809F36020012', 'hex');
/** 14 March, 17:30:00 at UTC+8. */
const SALE_AT = new Date('2026-03-14T09:30:00Z');
const ORIGINAL = { mti: '0200', stan: '000122', transmittedAt: '0314093000' };

const hex = (m: Parameters<typeof pack>[0]) => pack(m).toString('hex');

const SALE_HEX =
  '30323030323c058000c18210303030303030303030303030303031323334303331343039333030303030303132333137' +
  '33303030303331343237313230353130303130305445524d303030313030303030303030303030303030313031360001' +
  '02030405060708090a0b0c0d0e0f3135363032309f260811223344556677889f2701809f360200123030363030303030' +
  '31';
const REFUND_HEX =
  '30323030323c058000c18010323030303030303030303030303031323334303331343039333030303030303132333137' +
  '33303030303331343237313230353130303130305445524d303030313030303030303030303030303030313031360001' +
  '02030405060708090a0b0c0d0e0f313536303036303030303031';
const ADVICE_HEX =
  '30323230323c058000c18210303030303030303030303030303031323334303331343039343530303030303132333137' +
  '32353030303331343237313230353130303130305445524d303030313030303030303030303030303030313031360001' +
  '02030405060708090a0b0c0d0e0f3135363032309f260811223344556677889f2701809f360200123030363030303030' +
  '31';
const REVERSAL_HEX =
  '30343030b220010000c08010000000400000000030303030303030303030303030303132333430333134303933303330' +
  '3030303132333030315445524d3030303130303030303030303030303030303131353630303630303030303130323030' +
  '3030303132323033313430393330303030303030303030303030303030303030303030303030';
const SETTLEMENT_HEX =
  '303530300220010000c00012303331343135303030303030303132333030315445524d30303031303030303030303030' +
  '303030303031303036303030303031303336303030303132303030303030303435363030303030303031303030303030' +
  '303031323334';
const SIGN_ON_HEX = '3038303082200100008000000400000000000000303331343039303030303030303132333030315445524d30303031303031';
const ECHO_HEX = '3038303082200100008000000400000000000000303331343039303030303030303132333030315445524d30303031333031';
/** Section 10.15: void of the sale with STAN 000122 and RRN 407309000122, at 17:40:00 local. */
const VOID_HEX =
  '30323030b238018008c08010000000400000000030323030303030303030303030303132333430333134303934303030' +
  '3030303132333137343030303033313430303130303430373330393030303132325445524d3030303130303030303030' +
  '303030303030303131353630303630303030303130323030303030313232303331343039333030303030303030303030' +
  '3030303030303030303030303030';

/** Section 10.16: a sale of 1234.56 with the PIN block and KSN of card-reader.md section 7.2. */
const PIN_SALE_HEX =
  '30323030323c058000c19810303030303030303030303030313233343536303331343039333030303030303132333137' +
  '33303030303331343237313230353130303130305445524d303030313030303030303030303030303030313031360001' +
  '02030405060708090a0b0c0d0e0f31353664ce3dd1385615ac87b5295121c42ba5123456789012345600000003303036' +
  '303030303031';

const payment = {
  stan: '000123',
  amount: 1234,
  currency: 'CNY' as const,
  at: SALE_AT,
  entryMode: 'CHIP' as const,
  expiry: '2712',
  encryptedBlob: BLOB,
  batchNumber: 1,
};

describe('message builders match the golden vectors', () => {
  it('0200 sale with chip data', () => {
    expect(hex(financialRequest(ID, { ...payment, kind: 'sale', iccData: ICC }))).toBe(SALE_HEX);
  });

  it('0200 sale with PIN: the reader block in 52 and its KSN in 53, nothing else added', () => {
    const pin = { block: Buffer.from('64CE3DD1385615AC87B5295121C42BA5', 'hex'), ksn: Buffer.from('123456789012345600000003', 'hex') };
    expect(hex(financialRequest(ID, { ...payment, amount: 123456, kind: 'sale', pin }))).toBe(PIN_SALE_HEX);
  });

  it('0200 refund (processing code 200000, no chip data)', () => {
    expect(hex(financialRequest(ID, { ...payment, kind: 'refund' }))).toBe(REFUND_HEX);
  });

  it('0220 advice: the sale time in 12/13, the transmission time in 7', () => {
    const at = new Date('2026-03-14T09:25:00Z');
    const msg = adviceRequest(ID, { ...payment, at, iccData: ICC, repeat: false, sentAt: new Date('2026-03-14T09:45:00Z') });
    expect(hex(msg)).toBe(ADVICE_HEX);
  });

  it('0221 repeat differs only in MTI and field 7, and carries the offline approval code in 38', () => {
    const at = new Date('2026-03-14T09:25:00Z');
    const first = adviceRequest(ID, { ...payment, at, repeat: false, sentAt: at, offlineAuthCode: 'Y12345' });
    const repeat = adviceRequest(ID, { ...payment, at, repeat: true, sentAt: new Date('2026-03-14T09:50:00Z'), offlineAuthCode: 'Y12345' });
    expect(repeat.mti).toBe('0221');
    expect(repeat.fields.get(38)).toBe('Y12345');
    expect(repeat.fields.get(7)).toBe('0314095000');
    expect([...repeat.fields].filter(([n]) => n !== 7)).toEqual([...first.fields].filter(([n]) => n !== 7));
    expect(unpack(pack(repeat))).toEqual(repeat);
  });

  it('0400 reversal and its 0401 repeat keep the STAN and field 90', () => {
    const r = {
      stan: '000123',
      processingCode: '000000' as const,
      amount: 1234,
      currency: 'CNY' as const,
      batchNumber: 1,
      original: ORIGINAL,
    };
    expect(hex(reversalRequest(ID, { ...r, repeat: false, sentAt: new Date('2026-03-14T09:30:30Z') }))).toBe(REVERSAL_HEX);
    const repeat = reversalRequest(ID, { ...r, repeat: true, sentAt: new Date('2026-03-14T09:31:30Z') });
    expect(hex(repeat)).toBe('30343031' + REVERSAL_HEX.slice(8).replace('30333134303933303330', '30333134303933313330'));
  });

  it('0500 settlement with its field 63 totals', () => {
    const totals = { salesCount: 12, salesAmount: 45600, refundsCount: 1, refundsAmount: 1234 };
    expect(hex(settlementRequest(ID, { stan: '000123', at: new Date('2026-03-14T15:00:00Z'), batchNumber: 1, totals }))).toBe(
      SETTLEMENT_HEX,
    );
  });

  it('0800 sign-on (001) and echo test (301)', () => {
    const at = new Date('2026-03-14T09:00:00Z');
    expect(hex(networkRequest(ID, { stan: '000123', at, purpose: 'signOn' }))).toBe(SIGN_ON_HEX);
    expect(hex(networkRequest(ID, { stan: '000123', at, purpose: 'echo' }))).toBe(ECHO_HEX);
  });

  it('0200 void: processing code 020000, original RRN in 37, original data elements in 90, no card data', () => {
    const msg = voidRequest(ID, {
      stan: '000123',
      amount: 1234,
      currency: 'CNY',
      at: new Date('2026-03-14T09:40:00Z'),
      batchNumber: 1,
      original: { ...ORIGINAL, rrn: '407309000122' },
    });
    expect(hex(msg)).toBe(VOID_HEX);
    expect(msg.fields.has(48)).toBe(false);
  });
});

describe('field 90 and field 63 formats', () => {
  it('field 90 is MTI + STAN + field 7 + two 11-digit zero institution ids', () => {
    const value = originalDataElements(ORIGINAL);
    expect(value).toBe('020000012203140930000000000000000000000000');
    expect(value).toHaveLength(42);
    expect(parseOriginalDataElements(value)).toEqual(ORIGINAL);
    expect(parseOriginalDataElements('0200')).toBeUndefined();
  });

  it('field 63 round-trips and rejects anything but 36 digits', () => {
    const totals = { salesCount: 12, salesAmount: 45600, refundsCount: 1, refundsAmount: 1234 };
    expect(formatSettlementTotals(totals)).toBe('000012000000045600000001000000001234');
    expect(parseSettlementTotals(formatSettlementTotals(totals))).toEqual(totals);
    expect(parseSettlementTotals('12')).toBeUndefined();
  });
});
