import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../firmware-app/payments/journal.js';
import { receiptForTransaction, type ReceiptContext } from '../../firmware-app/receipts/from-transaction.js';
import {
  columnsFor,
  formatDateTime,
  layoutReceipt,
  receiptText,
  renderReceipt,
  type PaperWidth,
  type ReceiptData,
} from '../../firmware-app/receipts/layout.js';
import { displayWidth, labelled, wrap } from '../../firmware-app/receipts/width.js';
import { decodeToText } from '../../sim/printer/escpos-decoder.js';

const AT = new Date(2026, 10, 23, 14, 5, 9);

const APPROVED: ReceiptData = {
  language: 'en',
  merchantName: 'Demo Store',
  terminalId: 'TERM0001',
  merchantId: '000000000000001',
  at: AT,
  type: 'sale',
  amount: 1234,
  currency: 'CNY',
  last4: '1111',
  entryMode: 'CTLS',
  authCode: 'A1B2C3',
  rrn: '123456789012',
  stan: '000042',
  result: 'APPROVED',
  copy: 'customer',
};

const WIDTHS: PaperWidth[] = [58, 80];

function printed(d: ReceiptData, width: PaperWidth) {
  return decodeToText(renderReceipt(layoutReceipt(d), width));
}

describe('wrapping to the paper', () => {
  it('counts CJK (any non-ASCII) as two columns and ASCII as one', () => {
    expect(displayWidth('AB')).toBe(2);
    expect(displayWidth('商户')).toBe(4);
    expect(displayWidth('金额 CNY')).toBe(8);
  });

  it('moves a double-width character to the next line when one column is left', () => {
    expect(wrap('ABC商户', 4)).toEqual(['ABC', '商户']);
    expect(wrap('商户收据', 5)).toEqual(['商户', '收据']);
  });

  it('breaks at spaces, and hard-breaks a word longer than the line', () => {
    expect(wrap('pay at the till', 8)).toEqual(['pay at', 'the till']);
    expect(wrap('ABCDEFGHIJ', 4)).toEqual(['ABCD', 'EFGH', 'IJ']);
  });

  it('never exceeds the columns and keeps every character, in order', () => {
    const text = fc.array(fc.constantFrom('A', 'z', '9', ' ', '商', '户', '额', '。', '-', '😀'), { maxLength: 80 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, fc.integer({ min: 2, max: 48 }), (s, columns) => {
        const lines = wrap(s, columns);
        for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(columns);
        expect(lines.join('').replace(/ /g, '')).toBe(s.replace(/ /g, ''));
      }),
    );
  });

  it('puts a label and a value on one line, or the value right-aligned under a label that leaves no room', () => {
    expect(labelled('AUTH', 'A1B2C3', 16)).toEqual(['AUTH      A1B2C3']);
    expect(labelled('原因', '余额不足，请换卡支付', 16)).toEqual(['原因', '余额不足，请换卡', '            支付']);
  });
});

describe('receipt layout', () => {
  it('prints every field of an approval, last four only, at 58 mm', () => {
    const { pages } = printed(APPROVED, 58);
    expect(pages).toHaveLength(1);
    expect(pages[0]).toBe(
      [
        'Demo Store',
        'MERCHANT NO.     000000000000001',
        'TERMINAL NO.            TERM0001',
        '--------------------------------',
        'CARD NO.     **** **** **** 1111',
        'ENTRY MODE           CONTACTLESS',
        'SALE',
        'VOUCHER NO.               000042',
        'AUTH NO.                  A1B2C3',
        'REF NO.             123456789012',
        `DATE/TIME    ${formatDateTime(AT)}`,
        '--------------------------------',
        'TOTAL                  CNY 12.34',
        '--------------------------------',
        'APPROVED',
        '',
        'CUSTOMER COPY',
        '',
        '',
        '',
        '',
      ].join('\n'),
    );
  });

  it('uses the full 48 columns at 80 mm', () => {
    const page = printed(APPROVED, 80).pages[0]!;
    expect(page).toContain(`MERCHANT NO.${' '.repeat(21)}000000000000001`);
    expect(page).toContain('-'.repeat(48));
    for (const line of page.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(columnsFor(80));
  });

  it('explains a decline in the cashier text and marks store-and-forward approvals OFFLINE', () => {
    const declined = printed({ ...APPROVED, result: 'DECLINED', authCode: null, declineText: 'Insufficient funds' }, 58).pages[0]!;
    expect(declined).toMatch(/DECLINED\nREASON\s+Insufficient funds\n/);
    expect(declined).not.toContain('OFFLINE');
    const offline = printed({ ...APPROVED, offline: true }, 58).pages[0]!;
    expect(offline).toMatch(/OFFLINE\nAPPROVED/);
  });

  it('labels merchant and customer copies, marks reprints at both ends, and prints the e-receipt QR', () => {
    const merchant = printed({ ...APPROVED, copy: 'merchant', reprint: true, qr: 'https://r.example/abc' }, 58);
    expect(merchant.pages[0]).toMatch(/^\*\*\* REPRINT \*\*\*\nDemo Store[\s\S]*MERCHANT COPY\n\*\*\* REPRINT \*\*\*\n/);
    expect(merchant.qr).toEqual(['https://r.example/abc']);
  });

  it('builds the slip from the journal: result, OFFLINE for store-and-forward, reason in the terminal language', () => {
    const ctx: ReceiptContext = {
      language: 'zh-CN',
      merchantName: '示例商店',
      terminalId: 'TERM0001',
      merchantId: '000000000000001',
      eReceiptUrl: 'https://r.example/',
    };
    const txn: Transaction = {
      id: 7,
      uuid: 'u-7',
      type: 'sale',
      state: 'declined',
      amount: 500,
      currency: 'CNY',
      stan: '000007',
      stanDay: '1123',
      transmittedAt: null,
      maskedPan: '411111******1111',
      last4: '1111',
      panToken: 'tok',
      entryMode: 'CHIP',
      authCode: null,
      rrn: null,
      responseCode: '51',
      declineCode: '51',
      pinVerified: false,
      originalId: null,
      batchNumber: 1,
      operator: null,
      unreferenced: false,
      createdAt: AT.getTime(),
      updatedAt: AT.getTime(),
    };
    expect(receiptForTransaction(txn, ctx, 'customer')).toMatchObject({
      result: 'DECLINED',
      declineText: '余额不足',
      offline: false,
      qr: undefined,
    });
    expect(
      receiptForTransaction({ ...txn, state: 'offline_approved', declineCode: null, responseCode: null }, ctx, 'merchant'),
    ).toMatchObject({
      result: 'APPROVED',
      offline: true,
      declineText: undefined,
    });
    expect(receiptForTransaction({ ...txn, state: 'forwarded_declined' }, ctx, 'customer')).toMatchObject({
      result: 'DECLINED',
      offline: true,
    });
  });
});

describe('PIN verified on the slip', () => {
  const slip = (d: ReceiptData) => printed(d, 58).pages.join('\n');
  it('an approval the host verified with the PIN says so in the slip language; without a PIN, or declined, it does not', () => {
    expect(slip({ ...APPROVED, pinVerified: true })).toContain('PIN VERIFIED');
    expect(slip({ ...APPROVED, language: 'zh-CN', pinVerified: true })).toContain('密码已验证');
    expect(slip(APPROVED)).not.toContain('PIN VERIFIED');
    expect(slip({ ...APPROVED, result: 'DECLINED', pinVerified: true })).not.toContain('PIN VERIFIED');
  });
});

describe('receipt golden bytes', () => {
  const hex = (buf: Buffer) => buf.toString('hex').replace(/(..)(?!$)/g, '$1 ');

  it('renders a Chinese label line padded by display width, a centred QR code, feed and cut', () => {
    const bytes = renderReceipt(
      [
        { kind: 'pair', left: '金额', right: 'CNY 1.00' },
        { kind: 'qr', data: 'R1' },
      ],
      58,
    );
    expect(hex(bytes)).toBe(
      [
        '1b 40', // ESC @
        '1c 26', // FS &: GB18030 from here on
        '1b 45 00',
        'bd f0 b6 ee', // 金额: two characters, four columns
        '20'.repeat(20).replace(/(..)(?!$)/g, '$1 '), // 32 - 4 - 8 columns of padding
        '43 4e 59 20 31 2e 30 30 0a', // "CNY 1.00" LF
        '1b 45 00',
        '1b 61 01', // centre the symbol
        '1d 28 6b 04 00 31 41 32 00', // QR model 2
        '1d 28 6b 03 00 31 43 06', // module size 6
        '1d 28 6b 03 00 31 45 31', // ECC M
        '1d 28 6b 05 00 31 50 30 52 31', // store "R1"
        '1d 28 6b 03 00 31 51 30', // print it
        '0a',
        '1b 61 00',
        '1b 64 03', // feed 3
        '1d 56 42 00', // partial cut
      ].join(' '),
    );
  });
});

describe('round trip: encode a receipt, the printer simulator decodes the same text', () => {
  const zh: ReceiptData = {
    ...APPROVED,
    language: 'zh-CN',
    merchantName: '上海市浦东新区张江高科技园区示例便利店有限公司',
    result: 'DECLINED',
    authCode: null,
    declineText: '主机超时，交易已冲正，请重试',
    copy: 'customer',
    qr: 'https://r.example/6f1c',
  };

  for (const width of WIDTHS) {
    for (const [name, data] of [
      ['English approval', { ...APPROVED, copy: 'merchant', offline: true, qr: 'https://r.example/6f1c' }],
      ['Chinese decline', zh],
    ] as const) {
      it(`${name} at ${width} mm`, () => {
        const lines = layoutReceipt(data);
        const { pages, qr } = decodeToText(renderReceipt(lines, width));
        expect(pages).toEqual([`${receiptText(lines, width)}\n\n\n`]);
        expect(qr).toEqual(lines.flatMap((l) => (l.kind === 'qr' ? [l.data] : [])));
      });
    }

    it(`keeps every line of a Chinese receipt within ${width} mm without splitting a character`, () => {
      const page = printed(zh, width).pages[0]!;
      expect(page).not.toContain('\uFFFD');
      const columns = columnsFor(width);
      // The merchant name is printed double width: half the columns.
      const nameLines = wrap(zh.merchantName, columns / 2);
      expect(nameLines.join('')).toBe(zh.merchantName);
      for (const l of nameLines) expect(displayWidth(l)).toBeLessThanOrEqual(columns / 2);
      expect(page.startsWith(nameLines.join('\n'))).toBe(true);
      for (const line of page.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(columns);
      expect(page).toContain('主机超时，交易已冲正，请重试'.slice(0, 4));
      expect(page).toContain('交易失败');
      expect(page).toContain('持卡人存根');
    });
  }
});
