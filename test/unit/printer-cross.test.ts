import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EscPosBuilder } from '../../drivers/printer/escpos.js';
import { combineStatus, decodeStatusByte, encodeStatusByte, type PrinterStatus, type StatusRequest } from '../../drivers/printer/status.js';
import { decodeToText } from '../../sim/printer/escpos-decoder.js';
import { statusByte, type PrinterState } from '../../sim/printer/status-byte.js';

/**
 * The terminal's ESC/POS builder and status decoder (drivers/printer) and the simulated
 * printer's decoder and status encoder (sim/printer) are written separately from
 * docs/protocols/printer.md; the document's worked examples are checked by both.
 */
const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'protocols', 'printer.md'), 'utf8');
const REQUESTS: StatusRequest[] = [1, 2, 3, 4];
const FLAGS = [
  'online',
  'coverOpen',
  'paperNearEnd',
  'paperEnd',
  'cutterError',
  'unrecoverableError',
  'autoRecoverableError',
  'recoverableError',
  'drawerOpen',
] as const satisfies readonly (keyof PrinterStatus & keyof PrinterState)[];

function docExampleBytes(): Buffer {
  const block = /<!-- escpos-example -->\n```\n([\s\S]*?)```/.exec(DOC)?.[1];
  if (block === undefined) throw new Error('printer.md has no escpos-example block');
  return Buffer.from(block.replace(/\s+/g, ''), 'hex');
}

/** The rows of the "Worked status answers" table: a state and its four answers. */
function docStatusRows(): { label: string; state: PrinterState; bytes: number[] }[] {
  const rows = [...DOC.matchAll(/^\| ([^|]+) \| `([0-9A-F]{2})` \| `([0-9A-F]{2})` \| `([0-9A-F]{2})` \| `([0-9A-F]{2})` \|$/gm)];
  return rows.map((m) => {
    const state = Object.fromEntries(FLAGS.map((f) => [f, f === 'online'])) as unknown as PrinterState;
    for (const word of m[1]!.split(',').map((w) => w.trim().replace(/`/g, ''))) {
      if (word === 'offline') state.online = false;
      else if (word !== 'none (ready)') {
        expect(FLAGS).toContain(word);
        state[word as keyof PrinterState] = true;
      }
    }
    return { label: m[1]!, state, bytes: m.slice(2, 6).map((h) => parseInt(h, 16)) };
  });
}

function everyState(): PrinterState[] {
  return Array.from(
    { length: 1 << FLAGS.length },
    (_, bits) => Object.fromEntries(FLAGS.map((f, i) => [f, (bits & (1 << i)) !== 0])) as unknown as PrinterState,
  );
}

describe('printer status: simulator encoder and terminal decoder', () => {
  const rows = docStatusRows();

  it('the document has its worked status rows', () => {
    expect(rows.length).toBe(7);
  });

  it.each(rows.map((r) => [r.label, r] as const))(
    'document row "%s": the simulator answers these bytes and the terminal reads this state',
    (_label, row) => {
      expect(REQUESTS.map((n) => statusByte(n, row.state))).toEqual(row.bytes);
      expect(combineStatus(REQUESTS.map((n) => decodeStatusByte(n, row.bytes[n - 1]!)))).toEqual(row.state);
    },
  );

  it('the terminal reads every state the simulator can report back to that state, for all 512 flag combinations', () => {
    for (const state of everyState()) {
      const answers = REQUESTS.map((n) => statusByte(n, state));
      expect(combineStatus(REQUESTS.map((n, i) => decodeStatusByte(n, answers[i]!)))).toEqual(state);
      expect(answers).toEqual(REQUESTS.map((n) => encodeStatusByte(n, state)));
    }
  });
});

describe('ESC/POS: terminal builder and simulator decoder', () => {
  const golden = docExampleBytes();

  it('the builder writes exactly the worked example of the document', () => {
    const built = new EscPosBuilder()
      .init()
      .align('center')
      .bold(true)
      .line('SHOP')
      .bold(false)
      .align('left')
      .chinese(true)
      .line('合计 12.50')
      .chinese(false)
      .qr('R1', { moduleSize: 4 })
      .barcode('A{1')
      .cut()
      .bytes();
    expect(built.toString('hex')).toBe(golden.toString('hex'));
  });

  it('the simulator reads the worked example back to its text, QR data, barcode and one cut', () => {
    expect(decodeToText(golden)).toEqual({
      pages: ['SHOP\n合计 12.50\n'],
      qr: ['R1'],
      qrSymbols: [{ data: 'R1', moduleSize: 4, ecc: 'M', widthDots: 84 }],
      barcodes: ['A{1'],
    });
  });
});
