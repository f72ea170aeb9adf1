import { describe, expect, it } from 'vitest';
import { explain } from '../../firmware-app/declines/catalog.js';
import type { Transaction } from '../../firmware-app/payments/journal.js';
import { receiptForTransaction, type ReceiptContext } from '../../firmware-app/receipts/from-transaction.js';
import {
  columnsFor,
  formatDateTime,
  layoutReceipt,
  renderReceipt,
  type PaperWidth,
  type ReceiptCopy,
} from '../../firmware-app/receipts/layout.js';
import { displayWidth } from '../../firmware-app/receipts/width.js';
import { decodeToText } from '../../sim/printer/escpos-decoder.js';

const AT = new Date(2026, 10, 23, 14, 5, 9);

const CTX: ReceiptContext = {
  language: 'en',
  merchantName: 'Demo Store',
  terminalId: 'TERM0001',
  merchantId: '000000000000001',
  eReceiptUrl: 'https://r.example/',
};

const SALE: Transaction = {
  id: 7,
  uuid: 'u-7',
  type: 'sale',
  state: 'approved',
  amount: 1234,
  currency: 'CNY',
  stan: '000042',
  stanDay: '1123',
  transmittedAt: null,
  maskedPan: '622848******1234',
  last4: '1234',
  panToken: 'tok',
  entryMode: 'CHIP',
  pinVerified: false,
  unreferenced: false,
  authCode: 'A1B2C3',
  rrn: '123456789012',
  responseCode: '00',
  declineCode: null,
  originalId: null,
  batchNumber: 3,
  createdAt: AT.getTime(),
  updatedAt: AT.getTime(),
  operator: '01',
};

const DECLINE_43: Transaction = { ...SALE, state: 'declined', authCode: null, rrn: '123456789013', responseCode: '43', declineCode: '43' };

/** The printer simulator's reading of the slip the terminal would queue. */
function slip(txn: Transaction, opts: { copy?: ReceiptCopy; ctx?: Partial<ReceiptContext>; width?: PaperWidth; reprint?: boolean } = {}) {
  const data = receiptForTransaction(txn, { ...CTX, ...opts.ctx }, opts.copy ?? 'customer', opts.reprint ?? false);
  return decodeToText(renderReceipt(layoutReceipt(data), opts.width ?? 58));
}

/**
 * English words left on a slip once the codes it must print are taken out: the terminal and
 * merchant ids, auth code, RRN and currency code are codes, digits are numbers.
 */
function asciiWords(text: string, codes: Array<string | null>): string[] {
  let rest = text;
  for (const code of codes) if (code) rest = rest.replaceAll(code, ' ');
  return rest.match(/[A-Za-z]+/g) ?? [];
}

describe('slips a merchant can file (UnionPay 签购单 order)', () => {
  it('prints merchant, terminal and operator number, card type and last four, entry mode, batch, voucher, auth, RRN, date and TOTAL, and a signature block on the merchant copy', () => {
    const page = slip(SALE, { copy: 'merchant' }).pages[0]!;
    expect(page).toBe(
      [
        'Demo Store',
        'MERCHANT NO.     000000000000001',
        'TERMINAL NO.            TERM0001',
        'OPERATOR NO.                  01',
        '--------------------------------',
        'CARD TYPE               UNIONPAY',
        'CARD NO.     **** **** **** 1234',
        'ENTRY MODE                  CHIP',
        'SALE',
        'BATCH NO.                 000003',
        'VOUCHER NO.               000042',
        'AUTH NO.                  A1B2C3',
        'REF NO.             123456789012',
        `DATE/TIME    ${formatDateTime(AT)}`,
        '--------------------------------',
        'TOTAL                  CNY 12.34',
        '--------------------------------',
        'APPROVED',
        'CARDHOLDER SIGNATURE',
        '',
        '',
        '--------------------------------',
        'I ACKNOWLEDGE SATISFACTORY',
        'RECEIPT OF RELATIVE',
        'GOODS/SERVICES',
        '',
        '',
        '',
        'MERCHANT COPY',
        '',
        '',
        '',
        '',
      ].join('\n'),
    );
  });

  it('asks for no signature when a PIN was verified, and none on the customer copy', () => {
    const pin = slip({ ...SALE, pinVerified: true }, { copy: 'merchant' }).pages[0]!;
    expect(pin).toContain('PIN VERIFIED - NO SIGNATURE');
    expect(pin).not.toContain('CARDHOLDER SIGNATURE');
    expect(slip(SALE, { copy: 'customer' }).pages[0]).not.toMatch(/SIGNATURE|ACKNOWLEDGE/);
  });

  it('shows a refund negative and marks one without an original sale; a void is money back too', () => {
    const linked = slip({ ...SALE, type: 'refund', originalId: 3 }).pages[0]!;
    expect(linked).toMatch(/REFUND\n/);
    expect(linked).toMatch(/TOTAL\s+CNY -12\.34\n/);
    expect(linked).not.toContain('WITHOUT ORIGINAL');
    expect(slip({ ...SALE, type: 'refund', originalId: null }).pages[0]).toMatch(/REFUND\nREFUND WITHOUT ORIGINAL SALE\n/);
    expect(slip({ ...SALE, type: 'void', originalId: 3 }, { ctx: { language: 'zh-CN' } }).pages[0]).toMatch(/金额\s+-￥12\.34\n/);
  });
});

describe('the customer copy of a decline', () => {
  it('carries the customer text of decline 43, never the cashier text "keep card if safe"', () => {
    const entry = explain('43');
    const customer = slip(DECLINE_43, { copy: 'customer' }).pages[0]!;
    expect(customer).toContain(entry.customer.en);
    expect(customer).not.toMatch(/stolen|keep card/i);
    const zh = slip(DECLINE_43, { copy: 'customer', ctx: { language: 'zh-CN' } }).pages[0]!;
    expect(zh).toContain(entry.customer['zh-CN']);
    expect(zh).not.toContain(entry.cashier['zh-CN']);
    // The merchant's copy, when one is reprinted, tells staff what happened.
    expect(slip(DECLINE_43, { copy: 'merchant', reprint: true }).pages[0]).toContain(entry.cashier.en);
  });

  it('prints no e-receipt QR code', () => {
    expect(slip(DECLINE_43).qr).toEqual([]);
    expect(slip(SALE).qr).toEqual(['https://r.example/u-7']);
  });
});

describe('a Chinese slip has no English word', () => {
  const zh = { language: 'zh-CN' as const, merchantName: '示例便利店' };
  const cases: Array<[string, Transaction, ReceiptCopy, boolean]> = [
    ['approval, merchant copy, reprinted', SALE, 'merchant', true],
    [
      'contactless approval taken offline',
      { ...SALE, entryMode: 'CTLS', state: 'offline_approved', authCode: null, rrn: null },
      'customer',
      false,
    ],
    [
      'swiped refund without an original',
      { ...SALE, type: 'refund', entryMode: 'SWIPE', maskedPan: '411111******1111' },
      'merchant',
      false,
    ],
    ['decline 43', DECLINE_43, 'customer', false],
    ['manual-entry decline, reprinted', { ...DECLINE_43, entryMode: 'MANUAL', maskedPan: '545454******5454' }, 'customer', true],
  ];
  for (const [name, txn, copy, reprint] of cases) {
    it(`${name}: only codes and numbers in ASCII, amounts with ￥`, () => {
      const page = slip(txn, { copy, reprint, ctx: zh }).pages[0]!;
      expect(asciiWords(page, [CTX.terminalId, txn.authCode, txn.rrn])).toEqual([]);
      expect(page).toContain('￥12.34');
    });
  }
});

describe('the e-receipt QR code always fits the paper', () => {
  const PRINT_AREA_DOTS = { 58: 384, 80: 576 } as const;
  const longUrl = (bytes: number) => `https://receipts.example/${'r'.repeat(bytes - 25 - SALE.uuid.length)}`;

  for (const width of [58, 80] as const) {
    it(`a 512-byte e-receipt link at ${width} mm prints no wider than the print area`, () => {
      const { qr, qrSymbols } = slip(SALE, { width, ctx: { eReceiptUrl: longUrl(512) } });
      expect(Buffer.byteLength(qr[0]!)).toBe(512);
      expect(qrSymbols).toHaveLength(1);
      expect(qrSymbols[0]!.widthDots).toBeLessThanOrEqual(PRINT_AREA_DOTS[width]);
      expect(qrSymbols[0]!.moduleSize).toBeGreaterThanOrEqual(3);
    });
  }

  it('keeps a short link at a comfortable size', () => {
    expect(slip(SALE, { width: 80 }).qrSymbols[0]).toMatchObject({ moduleSize: 6 });
  });

  it('leaves out a QR code that cannot fit at a readable size, and the text lines stay within the paper', () => {
    const { qr, pages } = slip(SALE, { width: 58, ctx: { eReceiptUrl: longUrl(1500) } });
    expect(qr).toEqual([]);
    for (const line of pages[0]!.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(columnsFor(58));
    expect(slip(SALE, { width: 80, ctx: { eReceiptUrl: longUrl(1500) } }).qrSymbols[0]!.widthDots).toBeLessThanOrEqual(576);
  });
});
