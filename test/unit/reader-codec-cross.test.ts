import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as product from '../../drivers/card-reader/frame.js';
import { LineFramer, type OverlongLine } from '../../drivers/serial/line-framer.js';
import * as sim from '../../sim/reader/frame.js';
import { LineSplitter } from '../../sim/reader/line-splitter.js';

/**
 * The terminal's codec (drivers/) and the simulated reader's (sim/reader) are written
 * separately from docs/protocols/card-reader.md; each must read exactly what the other
 * writes, and judge a damaged line the same way, or one of them (or the document) is wrong.
 */
const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocols', 'card-reader.md'), 'utf8');
const DOC_LINES = [...DOC.matchAll(/^[<>] +(\$\S+)/gm)].map((m) => m[1]!);

const BLOB = Buffer.alloc(80, 7).toString('base64');
const TOKEN = 'a'.repeat(64);

/** Every command, answer shape and event of sections 5 and 6. */
const FRAMES: sim.ReaderFrame[] = [
  { seq: '1', command: 'INFO', fields: [] },
  { seq: '1', command: 'INFO', fields: ['OK', 'ACME', 'SR-100', 'SN00012345', '1.4.2'] },
  { seq: '2', command: 'STATUS', fields: [] },
  ...['IDLE', 'READING', 'PIN', 'DISPLAY'].map((state) => ({ seq: '2', command: 'STATUS', fields: ['OK', state, '1'] })),
  { seq: '3', command: 'READ', fields: ['1234', 'CNY', '30000'] },
  { seq: '3', command: 'READ', fields: ['OK', '476173******0010', '2812', 'CHIP', TOKEN, BLOB, 'LIMIT'] },
  { seq: '3', command: 'READ', fields: ['OK', '6250941006****8599', '2710', 'SWIPE', TOKEN, BLOB] },
  ...['TIMEOUT', 'CANCELLED', 'BUSY'].map((code) => ({ seq: '3', command: 'READ', fields: ['ERR', code] })),
  { seq: '3', command: 'READ', fields: ['ERR', 'CARD_READ_FAILED', sim.encodeText('chip error, insert again')] },
  { seq: '4', command: 'PIN', fields: ['30000'] },
  { seq: '4', command: 'PIN', fields: ['OK', 'ZM490ThWFayHtSlRIcQrpQ==', 'EjRWeJASNFYAAAAD'] },
  { seq: '4', command: 'PIN', fields: ['OK', 'BYPASSED'] },
  { seq: '4', command: 'PIN', fields: ['ERR', 'TIMEOUT'] },
  { seq: '5', command: 'CANCEL', fields: [] },
  { seq: '5', command: 'CANCEL', fields: ['OK'] },
  { seq: '6', command: 'DISPLAY', fields: [sim.encodeText('合计 ¥12.34'), sim.encodeText('请插卡或挥卡')] },
  { seq: '6', command: 'DISPLAY', fields: ['', ''] },
  { seq: '6', command: 'DISPLAY', fields: ['OK'] },
  { seq: '7', command: 'BEEP', fields: ['2', '150'] },
  { seq: '7', command: 'BEEP', fields: ['OK'] },
  { seq: '999', command: 'RESET', fields: [] },
  { seq: '999', command: 'RESET', fields: ['OK'] },
  ...['CHECKSUM', 'SYNTAX', 'OVERLONG'].map((reason) => ({ seq: '0', command: 'NAK', fields: [reason] })),
  { seq: '20', command: 'NAK', fields: ['CHECKSUM'] },
  ...['CARD_INSERTED', 'CARD_REMOVED', 'CARD_TAPPED'].map((kind, i) => ({ seq: `E${i + 1}`, command: 'EVENT', fields: [kind] })),
  ...['ENTER', '7', 'CANCEL', 'CLEAR'].map((key) => ({ seq: 'E999', command: 'EVENT', fields: ['KEY', key] })),
];

type Verdict = { frame: sim.ReaderFrame } | { nak: string; seq: string | undefined };

function productVerdict(line: string): Verdict {
  try {
    return { frame: product.parseFrame(line) };
  } catch (e) {
    if (!(e instanceof product.FrameError)) throw e;
    return { nak: e.code === 'FRAME_CHECKSUM' ? 'CHECKSUM' : 'SYNTAX', seq: e.seq };
  }
}

function simVerdict(line: string): Verdict {
  try {
    return { frame: sim.parseFrame(line) };
  } catch (e) {
    if (!(e instanceof sim.ReaderFrameError)) throw e;
    return { nak: e.nak, seq: e.seq };
  }
}

describe('reader frame codecs: terminal and simulated reader', () => {
  it.each(DOC_LINES)('both read the document line %s as the same frame', (line) => {
    const frame = sim.parseFrame(line);
    expect(product.parseFrame(line)).toEqual(frame);
  });

  it.each(FRAMES.map((f) => [`${f.seq},${f.command},${f.fields.join(',')}`, f] as const))(
    '%s: each side reads the bytes the other writes',
    (_name, frame) => {
      const fromSim = sim.encodeFrame(frame);
      const fromProduct = product.encodeFrame(frame);
      expect(fromSim).toBe(fromProduct);
      expect(product.parseFrame(fromSim.slice(0, -2))).toEqual(frame);
      expect(sim.parseFrame(fromProduct.slice(0, -2))).toEqual(frame);
    },
  );

  it('both refuse to build the same frames', () => {
    const bad: sim.ReaderFrame[] = [
      { seq: '0', command: 'INFO', fields: [] },
      { seq: '1000', command: 'INFO', fields: [] },
      { seq: '01', command: 'INFO', fields: [] },
      { seq: 'E1', command: 'INFO', fields: [] },
      { seq: '1', command: 'EVENT', fields: ['KEY', '1'] },
      { seq: '1', command: 'info', fields: [] },
      { seq: '1', command: 'DISPLAY', fields: ['a,b', ''] },
      { seq: '1', command: 'DISPLAY', fields: ['$', ''] },
      { seq: '1', command: 'DISPLAY', fields: ['é', ''] },
      { seq: '1', command: 'READ', fields: ['OK', 'x'.repeat(1024)] },
    ];
    for (const frame of bad) {
      expect(() => sim.encodeFrame(frame)).toThrow(sim.ReaderFrameError);
      expect(() => product.encodeFrame(frame)).toThrow(product.FrameError);
    }
  });

  it('both judge any line, damaged or not, the same way: the same frame, or the same NAK reason and seq', () => {
    const wire = fc.constantFrom(...FRAMES.map((f) => sim.encodeFrame(f).slice(0, -2)), ...DOC_LINES);
    const damage = fc.oneof(
      fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ at: fc.nat(), cut: fc.constant(true) }),
    );
    fc.assert(
      fc.property(wire, fc.array(damage, { maxLength: 3 }), (line, damages) => {
        let damaged = line;
        for (const d of damages) {
          const at = d.at % (damaged.length + 1);
          damaged = 'byte' in d ? damaged.slice(0, at) + String.fromCharCode(d.byte) + damaged.slice(at + 1) : damaged.slice(0, at);
        }
        expect(simVerdict(damaged)).toEqual(productVerdict(damaged));
      }),
      { numRuns: 3000 },
    );
  });

  it('both decode the same text fields and refuse the same non-canonical ones', () => {
    for (const field of [sim.encodeText('Total 12.34'), sim.encodeText('合计'), '', 'QQ', 'QQ=', 'QQ==', 'wyg=', '//79']) {
      const simText = (): string => sim.decodeText(field);
      const productText = (): string => product.dec64(field);
      let expected: string | undefined;
      try {
        expected = productText();
      } catch {
        expect(simText).toThrow(sim.ReaderFrameError);
        continue;
      }
      expect(simText()).toBe(expected);
    }
  });
});

describe('line splitting: terminal framer and simulated reader splitter', () => {
  async function productLines(chunks: Buffer[], max: number): Promise<(string | number)[]> {
    const framer = new LineFramer({ maxLength: max });
    const out: (string | number)[] = [];
    framer.on('data', (line: string) => out.push(line));
    framer.on('overlong', (o: OverlongLine) => out.push(o.length));
    for (const chunk of chunks) framer.write(chunk);
    framer.end();
    await new Promise((resolve) => framer.on('end', resolve));
    return out;
  }

  function simLines(chunks: Buffer[], max: number): (string | number)[] {
    const splitter = new LineSplitter(max);
    const out: (string | number)[] = [];
    for (const chunk of chunks) {
      for (const item of splitter.push(chunk)) out.push('line' in item ? item.line : item.overlongBytes);
      expect(splitter.heldBytes).toBeLessThanOrEqual(max + 1);
    }
    return out;
  }

  it('split any byte stream, cut anywhere, into the same lines and overlong reports', async () => {
    const pieces = fc.oneof(
      fc.constantFrom('\r\n', '\n', '\r', '$1,INFO*13', 'x'.repeat(9), 'abcdefgh'),
      fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(pieces, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 8 }), async (parts, cuts) => {
        const bytes = Buffer.from(parts.join(''), 'latin1');
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end));
        expect(simLines(chunks, 8)).toEqual(await productLines(chunks, 8));
      }),
      { numRuns: 1000 },
    );
  });

  it('keep a 1024-byte frame and report a 1025-byte one as overlong', async () => {
    const longest = `$1,DISPLAY,${'A'.repeat(1024 - 15)},*00`;
    const stream = [Buffer.from(`${longest}\r\n${longest}x\r\n`, 'latin1')];
    expect(simLines(stream, 1024)).toEqual([longest, 1025]);
    expect(await productLines(stream, 1024)).toEqual([longest, 1025]);
  });
});
