import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame, enc64, parseFrame, type Frame } from '../../drivers/card-reader/frame.js';
import { LineFramer } from '../../drivers/serial/line-framer.js';
import { PtyPair } from '../../sim/pty.js';
import { ReaderSim } from '../../sim/reader/reader-sim.js';

/**
 * The simulator against docs/protocols/card-reader.md, spoken to line by line over a real
 * pty the way a third-party terminal would, so the reader side of the contract is checked
 * independently of our driver.
 */
const WAIT_MS = 15_000;
let dir: string;
let pty: PtyPair;
let reader: ReaderSim;
let port: SerialPort;
let lines: string[];

const cmd = (seq: string, command: string, ...fields: string[]) => encodeFrame({ seq, command, fields });

function send(text: string): void {
  port.write(Buffer.from(text, 'latin1'));
}

/** Waits for the next line from the reader and returns it parsed. */
async function next(): Promise<Frame> {
  const deadline = Date.now() + WAIT_MS;
  while (lines.length === 0) {
    if (Date.now() > deadline) throw new Error('the reader sent nothing');
    await new Promise((r) => setTimeout(r, 5));
  }
  return parseFrame(lines.shift()!);
}

/** Nothing more arrives within a short while (used after lines that must stay unanswered). */
async function quiet(ms = 400): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  expect(lines).toEqual([]);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pos-readersim-'));
  pty = new PtyPair(join(dir, 'reader'), join(dir, 'reader.sim'));
  await pty.start();
  reader = new ReaderSim({ path: pty.simPath, tapDelayMs: 100 });
  await reader.start();
  port = new SerialPort({ path: pty.devicePath, baudRate: 115200, autoOpen: false, lock: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  lines = [];
  const framer = new LineFramer();
  port.pipe(framer);
  framer.on('data', (l: string) => lines.push(l));
});

afterEach(async () => {
  await new Promise<void>((resolve) => port.close(() => resolve()));
  await reader.stop();
  await pty.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('ReaderSim follows the protocol document', () => {
  it('NAKs damage with the reason of section 2, with the seq when readable and 0 otherwise', async () => {
    send('$4,STATUS*00\r\n');
    expect(await next()).toEqual({ seq: '4', command: 'NAK', fields: ['CHECKSUM'] });
    send('garbage \x00\xff\r\n');
    expect(await next()).toEqual({ seq: '0', command: 'NAK', fields: ['SYNTAX'] });
    send(`$5,READ,${'9'.repeat(1100)}*00\r\n`);
    expect(await next()).toEqual({ seq: '0', command: 'NAK', fields: ['OVERLONG'] });
    send(cmd('6', 'FOO'));
    expect(await next()).toEqual({ seq: '6', command: 'NAK', fields: ['SYNTAX'] });
    for (const bad of [
      cmd('7', 'READ', '12x', 'CNY', '1000'),
      cmd('8', 'READ', '1', 'cny', '1000'),
      cmd('9', 'BEEP', '0', '100'),
      cmd('10', 'INFO', 'extra'),
      cmd('11', 'DISPLAY', 'not base64!', ''),
    ]) {
      send(bad);
      expect(await next()).toMatchObject({ command: 'NAK', fields: ['SYNTAX'] });
    }
  });

  it('NAKs a DISPLAY line that is canonical base64 but not UTF-8 with SYNTAX, and goes on answering', async () => {
    send(cmd('12', 'DISPLAY', 'wyg=', ''));
    expect(await next()).toEqual({ seq: '12', command: 'NAK', fields: ['SYNTAX'] });
    send(cmd('13', 'STATUS'));
    expect(await next()).toEqual({ seq: '13', command: 'STATUS', fields: ['OK', 'IDLE', '0'] });
  });

  it('never NAKs a NAK or an event, and ignores empty lines', async () => {
    send('$3,NAK,CHECKSUM*00\r\n');
    send('$E2,EVENT,KEY,1*00\r\n');
    send('\r\n\r\n');
    send(cmd('E4', 'EVENT', 'CARD_INSERTED'));
    await quiet();
  });

  it('retransmits its answer on a NAK (seq 0 = most recent), 3 transmissions in all', async () => {
    send(cmd('1', 'INFO'));
    const info = await next();
    send(cmd('2', 'BEEP', '1', '100'));
    const beep = await next();
    send(cmd('1', 'NAK', 'CHECKSUM'));
    expect(await next()).toEqual(info);
    send(cmd('0', 'NAK', 'CHECKSUM'));
    expect(await next()).toEqual(beep);
    send(cmd('2', 'NAK', 'CHECKSUM'));
    expect(await next()).toEqual(beep);
    send(cmd('2', 'NAK', 'CHECKSUM'));
    await quiet();
  });

  it('answers a repeated command from its store instead of executing it twice, except RESET', async () => {
    reader.autoPresent = false;
    reader.presentNothing();
    send(cmd('1', 'READ', '100', 'CNY', '800'));
    send(cmd('1', 'READ', '100', 'CNY', '800'));
    expect(await next()).toEqual({ seq: '1', command: 'READ', fields: ['ERR', 'TIMEOUT'] });
    await quiet();
    send(cmd('1', 'READ', '100', 'CNY', '800'));
    expect(await next()).toEqual({ seq: '1', command: 'READ', fields: ['ERR', 'TIMEOUT'] });
    expect(reader.state).toBe('IDLE');
    send(cmd('2', 'RESET'));
    expect(await next()).toEqual({ seq: '2', command: 'RESET', fields: ['OK'] });
    send(cmd('2', 'RESET'));
    expect(await next()).toEqual({ seq: '2', command: 'RESET', fields: ['OK'] });
    expect(reader.received.filter((f) => f.command === 'RESET')).toHaveLength(2);
  });

  it('during a READ: STATUS says READING, other commands get ERR,BUSY, CANCEL aborts it', async () => {
    reader.autoPresent = false;
    reader.presentNothing();
    send(cmd('1', 'READ', '500', 'USD', '20000'));
    send(cmd('2', 'STATUS'));
    expect(await next()).toEqual({ seq: '2', command: 'STATUS', fields: ['OK', 'READING', '0'] });
    send(cmd('3', 'INFO'));
    expect(await next()).toEqual({ seq: '3', command: 'INFO', fields: ['ERR', 'BUSY'] });
    send(cmd('4', 'DISPLAY', enc64('x'), ''));
    expect(await next()).toEqual({ seq: '4', command: 'DISPLAY', fields: ['ERR', 'BUSY'] });
    send(cmd('5', 'CANCEL'));
    expect(await next()).toEqual({ seq: '1', command: 'READ', fields: ['ERR', 'CANCELLED'] });
    expect(await next()).toEqual({ seq: '5', command: 'CANCEL', fields: ['OK'] });
    send(cmd('6', 'CANCEL'));
    expect(await next()).toEqual({ seq: '6', command: 'CANCEL', fields: ['OK'] });
  });

  it('RESET aborts a READ, clears the display and the answer store', async () => {
    send(cmd('1', 'DISPLAY', enc64('合计 ¥12.34'), enc64('请插卡')));
    expect(await next()).toEqual({ seq: '1', command: 'DISPLAY', fields: ['OK'] });
    expect(reader.screen).toEqual(['合计 ¥12.34', '请插卡']);
    reader.autoPresent = false;
    reader.presentNothing();
    send(cmd('2', 'READ', '1', 'CNY', '20000'));
    send(cmd('3', 'RESET'));
    expect(await next()).toEqual({ seq: '2', command: 'READ', fields: ['ERR', 'CANCELLED'] });
    expect(await next()).toEqual({ seq: '3', command: 'RESET', fields: ['OK'] });
    expect(reader.screen).toEqual(['', '']);
    send(cmd('2', 'NAK', 'CHECKSUM'));
    await quiet();
  });

  it('PIN needs a card read first; during PIN entry no KEY events leave the reader', async () => {
    send(cmd('1', 'PIN', '5000'));
    expect(await next()).toEqual({ seq: '1', command: 'PIN', fields: ['ERR', 'CANCELLED'] });
    reader.presentCard('mc-contactless');
    send(cmd('2', 'READ', '100', 'CNY', '5000'));
    expect(await next()).toEqual({ seq: 'E1', command: 'EVENT', fields: ['CARD_TAPPED'] });
    expect((await next()).fields.slice(0, 4)).toEqual(['OK', '555555******4444', '2911', 'CTLS']);
    reader.ignorePin();
    send(cmd('3', 'PIN', '600'));
    await new Promise((r) => setTimeout(r, 100));
    reader.pressKey('7');
    expect(await next()).toEqual({ seq: '3', command: 'PIN', fields: ['ERR', 'TIMEOUT'] });
    reader.pressKey('7');
    expect(await next()).toEqual({ seq: 'E2', command: 'EVENT', fields: ['KEY', '7'] });
  });

  it('reports card insertion and removal, and STATUS shows the card in the slot', async () => {
    reader.insertCard();
    expect(await next()).toEqual({ seq: 'E1', command: 'EVENT', fields: ['CARD_INSERTED'] });
    send(cmd('1', 'STATUS'));
    expect(await next()).toEqual({ seq: '1', command: 'STATUS', fields: ['OK', 'IDLE', '1'] });
    reader.removeCard();
    expect(await next()).toEqual({ seq: 'E2', command: 'EVENT', fields: ['CARD_REMOVED'] });
  });
});
