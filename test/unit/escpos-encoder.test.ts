import { describe, it, expect } from 'vitest';
import { DLE_EOT, EscPosBuilder, EscPosError, QR_MAX_BYTES } from '../../drivers/printer/escpos.js';
import { PosError } from '../../drivers/base/errors.js';

/** Golden bytes are written as spaced hex so a failure shows exactly which byte moved. */
const hex = (buf: Buffer) => buf.toString('hex').replace(/(..)(?!$)/g, '$1 ');

function invalid(build: (b: EscPosBuilder) => unknown): EscPosError {
  try {
    build(new EscPosBuilder());
  } catch (err) {
    expect(err).toBeInstanceOf(EscPosError);
    expect(err).toBeInstanceOf(PosError);
    expect((err as EscPosError).code).toBe('ESCPOS_INVALID');
    return err as EscPosError;
  }
  throw new Error('expected an EscPosError');
}

describe('EscPosBuilder golden bytes', () => {
  it('encodes an English receipt fragment', () => {
    const bytes = new EscPosBuilder()
      .init()
      .align('center')
      .bold(true)
      .size(2, 2)
      .line('SHOP')
      .bold(false)
      .size(1, 1)
      .align('left')
      .line('Total 12.50')
      .cut()
      .bytes();
    expect(hex(bytes)).toBe(
      [
        '1b 40', // ESC @
        '1b 61 01', // ESC a 1: center
        '1b 45 01', // ESC E 1: bold on
        '1d 21 11', // GS ! 0x11: double width and height
        '53 48 4f 50 0a', // "SHOP" LF
        '1b 45 00',
        '1d 21 00',
        '1b 61 00',
        '54 6f 74 61 6c 20 31 32 2e 35 30 0a', // "Total 12.50" LF
        '1d 56 42 00', // GS V 66 0: feed and partial cut
      ].join(' '),
    );
  });

  it('encodes Chinese text as GB18030 between FS & and FS .', () => {
    const bytes = new EscPosBuilder().init().chinese(true).line('商户 收据').chinese(false).line('OK').bytes();
    // 商 C9CC, 户 BBA7, 收 CAD5, 据 BEDD in GB2312/GB18030.
    expect(hex(bytes)).toBe('1b 40 1c 26 c9 cc bb a7 20 ca d5 be dd 0a 1c 2e 4f 4b 0a');
  });

  it('encodes a four-byte GB18030 character in Chinese mode', () => {
    expect(hex(new EscPosBuilder().chinese(true).text('😀').bytes())).toBe('1c 26 94 39 fc 36');
  });

  it('replaces non-ASCII with ? outside Chinese mode, one ? per character', () => {
    expect(hex(new EscPosBuilder().text('café 😀 商').bytes())).toBe('63 61 66 3f 20 3f 20 3f');
  });

  it('treats the printer as back in ASCII after init', () => {
    expect(hex(new EscPosBuilder().chinese(true).init().text('商').bytes())).toBe('1c 26 1b 40 3f');
  });

  it('cannot smuggle commands through text', () => {
    expect(hex(new EscPosBuilder().text('a\x1bi\x1d\tb').bytes())).toBe('61 3f 69 3f 3f 62');
    expect(hex(new EscPosBuilder().chinese(true).text('商\x1b@').bytes())).toBe('1c 26 c9 cc 3f 40');
  });

  it('encodes code page, feed and line without text', () => {
    expect(hex(new EscPosBuilder().codePage(16).feed(3).line().bytes())).toBe('1b 74 10 1b 64 03 0a');
  });

  it('encodes a QR code as model, module size, ECC, store and print', () => {
    const data = 'https://pay.example/t/1';
    const bytes = new EscPosBuilder().qr(data, { moduleSize: 4, ecc: 'Q' }).bytes();
    expect(hex(bytes)).toBe(
      [
        '1d 28 6b 04 00 31 41 32 00', // fn 165: model 2
        '1d 28 6b 03 00 31 43 04', // fn 167: module size 4
        '1d 28 6b 03 00 31 45 32', // fn 169: ECC Q
        '1d 28 6b 1a 00 31 50 30', // fn 180: store, pL pH = 23 data bytes + 3
        hex(Buffer.from(data, 'ascii')),
        '1d 28 6b 03 00 31 51 30', // fn 181: print
      ].join(' '),
    );
  });

  it('defaults the QR code to module size 6 and ECC M', () => {
    const bytes = new EscPosBuilder().qr('x').bytes();
    expect(hex(bytes.subarray(9, 25))).toBe('1d 28 6b 03 00 31 43 06 1d 28 6b 03 00 31 45 31');
  });

  it('puts QR store lengths over 255 in pH', () => {
    const bytes = new EscPosBuilder().qr('A'.repeat(300)).bytes();
    // 300 + 3 = 0x012f
    expect(hex(bytes.subarray(25, 33))).toBe('1d 28 6b 2f 01 31 50 30');
    expect(bytes.length).toBe(25 + 8 + 300 + 8);
  });

  it('accepts a QR code of exactly the maximum size', () => {
    const bytes = new EscPosBuilder().qr('1'.repeat(QR_MAX_BYTES)).bytes();
    expect(hex(bytes.subarray(25, 30))).toBe('1d 28 6b b4 1b'); // 7092 = 0x1bb4
  });

  it('encodes partial and full cuts', () => {
    expect(hex(new EscPosBuilder().cut('partial').bytes())).toBe('1d 56 42 00');
    expect(hex(new EscPosBuilder().cut('full').bytes())).toBe('1d 56 41 00');
  });

  it('encodes a drawer kick', () => {
    expect(hex(new EscPosBuilder().drawerKick().bytes())).toBe('1b 70 00 19 fa');
  });

  it('encodes a CODE128 barcode in code set B with HRI below, doubling a literal brace', () => {
    expect(hex(new EscPosBuilder().barcode('AB{1').bytes())).toBe('1d 48 02 1d 6b 49 07 7b 42 41 42 7b 7b 31');
  });

  it('encodes a CODE39 barcode', () => {
    expect(hex(new EscPosBuilder().barcode('ABC-123', 'CODE39').bytes())).toBe('1d 48 02 1d 6b 45 07 41 42 43 2d 31 32 33');
  });

  it('encodes the real-time status requests', () => {
    expect(hex(DLE_EOT(1))).toBe('10 04 01');
    expect(hex(DLE_EOT(4))).toBe('10 04 04');
  });
});

describe('EscPosBuilder rejects bad input with ESCPOS_INVALID', () => {
  it('rejects empty and oversized QR data', () => {
    invalid((b) => b.qr(''));
    const err = invalid((b) => b.qr('1'.repeat(QR_MAX_BYTES + 1)));
    expect(err.details).toEqual({ length: QR_MAX_BYTES + 1 });
  });

  it('counts QR size in bytes, not characters', () => {
    invalid((b) => b.qr('商'.repeat(2400))); // 7200 UTF-8 bytes
  });

  it('rejects a QR module size outside 1..16 and an unknown ECC level', () => {
    invalid((b) => b.qr('x', { moduleSize: 0 }));
    invalid((b) => b.qr('x', { moduleSize: 17 }));
    invalid((b) => b.qr('x', { ecc: 'X' as 'L' }));
  });

  it('rejects characters outside the barcode symbology', () => {
    invalid((b) => b.barcode('abc', 'CODE39'));
    invalid((b) => b.barcode('A*B', 'CODE39'));
    invalid((b) => b.barcode('café'));
    invalid((b) => b.barcode('A\nB'));
    invalid((b) => b.barcode(''));
  });

  it('rejects a barcode longer than GS k can count', () => {
    new EscPosBuilder().barcode('A'.repeat(253));
    invalid((b) => b.barcode('A'.repeat(254)));
    invalid((b) => b.barcode('{'.repeat(127)));
  });

  it('rejects feed and code page outside 0..255', () => {
    invalid((b) => b.feed(256));
    invalid((b) => b.feed(-1));
    invalid((b) => b.feed(1.5));
    invalid((b) => b.codePage(300));
  });

  it('rejects values a caller outside the type system could pass', () => {
    invalid((b) => b.align('middle' as 'left'));
    invalid((b) => b.size(3 as 1, 1));
    invalid((b) => b.cut('half' as 'full'));
    invalid((b) => b.barcode('1', 'EAN13' as 'CODE39'));
  });
});
