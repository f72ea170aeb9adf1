import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { DLE_EOT, EscPosBuilder } from '../../drivers/printer/escpos.js';
import { SimError } from '../../sim/errors.js';
import { decodeToText, EscPosDecoder, type EscPosEvent } from '../../sim/printer/escpos-decoder.js';

function receipt(): Buffer {
  return new EscPosBuilder()
    .init()
    .align('center')
    .bold(true)
    .size(2, 2)
    .line('DEMO SHOP')
    .size(1, 1)
    .bold(false)
    .chinese(true)
    .line('商户 收据')
    .line('金额: CNY 12.50')
    .chinese(false)
    .align('left')
    .line('Card ****1234')
    .qr('https://pay.example/r/8812', { ecc: 'Q' })
    .barcode('RRN{0042')
    .feed(2)
    .cut('partial')
    .init()
    .chinese(true)
    .line('退款 REFUND')
    .chinese(false)
    .cut('full')
    .bytes();
}

const RECEIPT_TEXT = {
  pages: ['DEMO SHOP\n商户 收据\n金额: CNY 12.50\nCard ****1234\n\n\n', '退款 REFUND\n'],
  qr: ['https://pay.example/r/8812'],
  // 26 bytes at level Q need version 3: 29 modules of 6 dots.
  qrSymbols: [{ data: 'https://pay.example/r/8812', moduleSize: 6, ecc: 'Q', widthDots: 174 }],
  barcodes: ['RRN{0042'],
};

/** Adjacent text events merged and unknown bytes dropped: what must not depend on how the bytes were chunked. */
function normalise(events: EscPosEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    const last = out.at(-1) as EscPosEvent | undefined;
    if (e.type === 'text' && last?.type === 'text') out[out.length - 1] = { type: 'text', text: last.text + e.text };
    else out.push(e.type === 'unknown' ? { type: 'unknown' } : e);
  }
  return out;
}

function pushInChunks(decoder: EscPosDecoder, bytes: Buffer, sizes: number[]): EscPosEvent[] {
  const events: EscPosEvent[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length] ?? 1;
    events.push(...decoder.push(bytes.subarray(at, at + size)));
    at += size;
  }
  return events;
}

describe('decodeToText', () => {
  it('gives back the text, QR data and barcode of an encoded receipt, page by page', () => {
    expect(decodeToText(receipt())).toEqual(RECEIPT_TEXT);
  });

  it('says how wide each QR symbol prints: the version its data needs times the module size, with power-on settings after ESC @', () => {
    const url = `https://r.example/${'x'.repeat(494)}`;
    // Store and print with no size or level command, as a host relying on the power-on settings would.
    const storeAndPrint = (data: Buffer) =>
      Buffer.concat([
        Buffer.from([0x1d, 0x28, 0x6b, (data.length + 3) & 0xff, (data.length + 3) >> 8, 0x31, 0x50, 0x30]),
        data,
        Buffer.from([0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30]),
      ]);
    const bytes = Buffer.concat([
      new EscPosBuilder().qr(url, { moduleSize: 4 }).init().bytes(),
      storeAndPrint(Buffer.from('A'.repeat(100))),
      storeAndPrint(Buffer.from('A'.repeat(3000))),
    ]);
    expect(decodeToText(bytes).qrSymbols).toEqual([
      // 512 bytes at level M need version 18: 89 modules.
      { data: url, moduleSize: 4, ecc: 'M', widthDots: 356 },
      // Power-on level L holds 100 bytes in version 5 (37 modules), at the power-on 3 dots.
      { data: 'A'.repeat(100), moduleSize: 3, ecc: 'L', widthDots: 111 },
      // More than any version holds: the printer draws nothing.
      { data: 'A'.repeat(3000), moduleSize: 3, ecc: 'L', widthDots: undefined },
    ]);
  });

  it('keeps text after the last cut as a page of its own', () => {
    expect(decodeToText(new EscPosBuilder().line('A').cut().line('B').bytes()).pages).toEqual(['A\n', 'B\n']);
  });
});

describe('EscPosDecoder', () => {
  it('gives the same events fed one byte at a time as fed whole', () => {
    const bytes = receipt();
    const whole = new EscPosDecoder().push(bytes);
    const byteAtATime = pushInChunks(new EscPosDecoder(), bytes, [1]);
    expect(normalise(byteAtATime)).toEqual(normalise(whole));
  });

  it('reports styles as events and keeps the text plain', () => {
    const events = new EscPosDecoder().push(new EscPosBuilder().init().align('right').bold(true).size(2, 1).codePage(16).line('X').bytes());
    expect(events).toEqual([
      { type: 'init' },
      { type: 'style', what: 'align', value: 'right' },
      { type: 'style', what: 'bold', value: true },
      { type: 'style', what: 'size', value: { width: 2, height: 1 } },
      { type: 'style', what: 'codePage', value: 16 },
      { type: 'text', text: 'X\n' },
    ]);
  });

  it('decodes a double-byte character split across two chunks', () => {
    const decoder = new EscPosDecoder();
    expect(decoder.push(Buffer.from([0x1c, 0x26, 0x41, 0xc9]))).toEqual([
      { type: 'style', what: 'chinese', value: true },
      { type: 'text', text: 'A' },
    ]);
    expect(decoder.pendingBytes).toBe(1);
    expect(decoder.push(Buffer.from([0xcc, 0x0a]))).toEqual([{ type: 'text', text: '商\n' }]);
  });

  it('decodes a four-byte GB18030 character split at every point', () => {
    const bytes = new EscPosBuilder().chinese(true).text('😀').bytes();
    for (let cut = 3; cut < bytes.length; cut++) {
      const decoder = new EscPosDecoder();
      const events = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(events.filter((e) => e.type === 'text')).toEqual([{ type: 'text', text: '😀' }]);
    }
  });

  it('reads bytes above 0x7f as unknown characters outside Chinese mode', () => {
    expect(new EscPosDecoder().push(Buffer.from([0x41, 0xc9, 0xcc, 0x42]))).toEqual([{ type: 'text', text: 'A\uFFFD\uFFFDB' }]);
  });

  it('asks for each status byte, also in the middle of a job', () => {
    const bytes = Buffer.concat([DLE_EOT(1), Buffer.from('AB'), DLE_EOT(4), Buffer.from('C\n')]);
    expect(new EscPosDecoder().push(bytes)).toEqual([
      { type: 'status-request', n: 1 },
      { type: 'text', text: 'AB' },
      { type: 'status-request', n: 4 },
      { type: 'text', text: 'C\n' },
    ]);
  });

  it('reports cuts, the drawer kick, the QR and the barcode', () => {
    const bytes = new EscPosBuilder().drawerKick().qr('Q1').barcode('AB-1', 'CODE39').cut('full').cut('partial').bytes();
    expect(new EscPosDecoder().push(bytes).filter((e) => e.type !== 'style')).toEqual([
      { type: 'drawer' },
      { type: 'qr', data: 'Q1', moduleSize: 6, ecc: 'M', widthDots: 126 },
      { type: 'barcode', kind: 'CODE39', data: 'AB-1' },
      { type: 'cut', partial: false },
      { type: 'cut', partial: true },
    ]);
  });

  it('keeps unrecognised commands as unknown events and goes on decoding', () => {
    expect(new EscPosDecoder().push(Buffer.from([0x1b, 0xff, 0x41, 0x07, 0x42, 0x10, 0x41]))).toEqual([
      { type: 'unknown', bytes: Buffer.from([0x1b, 0xff]) },
      { type: 'text', text: 'A' },
      { type: 'unknown', bytes: Buffer.from([0x07]) },
      { type: 'text', text: 'B' },
      { type: 'unknown', bytes: Buffer.from([0x10]) },
      { type: 'text', text: 'A' },
    ]);
  });

  it('skips a command of known length that does not fit in maxPending, and resyncs after it', () => {
    const decoder = new EscPosDecoder({ maxPending: 16 });
    // GS ( k storing 1000 bytes of QR data: longer than the decoder may hold.
    const store = Buffer.concat([Buffer.from([0x1d, 0x28, 0x6b, 0xeb, 0x03, 0x31, 0x50, 0x30]), Buffer.alloc(1000, 0x41)]);
    const first = decoder.push(store.subarray(0, 20));
    expect(first).toEqual([{ type: 'unknown', bytes: store.subarray(0, 20) }]);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.push(Buffer.concat([store.subarray(20), Buffer.from('OK\n')]))).toEqual([{ type: 'text', text: 'OK\n' }]);
  });

  it('forgets Chinese mode and held bytes on reset', () => {
    const decoder = new EscPosDecoder();
    decoder.push(Buffer.from([0x1c, 0x26, 0xc9]));
    decoder.reset();
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.push(Buffer.from([0xc9, 0xcc]))).toEqual([{ type: 'text', text: '\uFFFD\uFFFD' }]);
  });

  it('rejects a maxPending too small to hold a command header', () => {
    expect(() => new EscPosDecoder({ maxPending: 8 })).toThrow(SimError);
  });
});

/** Pieces of real commands mixed into random bytes, so the fuzzing reaches the length-counting paths. */
const FRAGMENTS = [
  [0x1b, 0x40],
  [0x1c, 0x26],
  [0x1c, 0x2e],
  [0x1d, 0x28, 0x6b],
  [0x1d, 0x28, 0x6b, 0x03, 0x00, 0x31, 0x51, 0x30],
  [0x1d, 0x6b, 0x49],
  [0x1d, 0x6b, 0x02],
  [0x1d, 0x76, 0x30],
  [0x1d, 0x56, 0x42],
  [0x1b, 0x2a, 0x21],
  [0x1b, 0x44],
  [0x10, 0x04],
  [0x10, 0x14, 0x01],
  [0xc9, 0xcc],
  [0x94, 0x39, 0xfc, 0x36],
].map((bytes) => Uint8Array.from(bytes));

const streams = fc
  .array(fc.oneof(fc.uint8Array({ maxLength: 12 }), fc.constantFrom(...FRAGMENTS)), { maxLength: 40 })
  .map((parts) => Buffer.concat(parts));
const chunkSizes = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 });

describe('EscPosDecoder under arbitrary input', () => {
  it('never throws and never holds more than maxPending, however the bytes are chunked', () => {
    fc.assert(
      fc.property(streams, chunkSizes, fc.integer({ min: 16, max: 64 }), (bytes, sizes, maxPending) => {
        const decoder = new EscPosDecoder({ maxPending });
        for (let at = 0, k = 0; at < bytes.length; k++) {
          const size = sizes[k % sizes.length] ?? 1;
          decoder.push(bytes.subarray(at, at + size));
          expect(decoder.pendingBytes).toBeLessThanOrEqual(maxPending);
          at += size;
        }
      }),
      { numRuns: 10000 },
    );
  });

  it('decodes the same events however the bytes are chunked', () => {
    fc.assert(
      fc.property(streams, chunkSizes, (bytes, sizes) => {
        const whole = new EscPosDecoder().push(bytes);
        expect(normalise(pushInChunks(new EscPosDecoder(), bytes, sizes))).toEqual(normalise(whole));
      }),
      { numRuns: 2000 },
    );
  });
});
