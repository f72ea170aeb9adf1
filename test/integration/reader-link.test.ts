import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { CardReaderClient } from '../../drivers/card-reader/client.js';
import { ReaderDisconnectedError, ReaderLinkError, ReaderTimeoutError } from '../../drivers/card-reader/errors.js';
import type { ReaderOptions } from '../../drivers/card-reader/options.js';
import type { ReaderEvent } from '../../drivers/card-reader/types.js';
import { decryptCardData } from '../../sim/cards.js';
import { PtyPair } from '../../sim/pty.js';
import { workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { decipherPinBlock4 } from '../../sim/crypto/pin-block-4.js';
import { TEST_BDK } from '../../sim/crypto/test-keys.js';
import { ReaderSim } from '../../sim/reader/reader-sim.js';

/** Shortened so the stories below run in seconds; the waits in the tests are far longer. */
const OPTIONS: Partial<ReaderOptions> = {
  commandTimeoutMs: 1500,
  interactiveMarginMs: 1500,
  healthProbeMs: 300,
  reconnectMinMs: 50,
  reconnectMaxMs: 300,
};
const WAIT_MS = 20_000;

async function until(what: string, predicate: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Marks a call's rejection as expected at once, so a test may await something else before asserting on it. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

let dir: string;
let pty: PtyPair;
let reader: ReaderSim;
let client: CardReaderClient;
let events: ReaderEvent[];

/** The reader's USB cable is pulled: its simulator end stops and the device path vanishes. */
async function unplug(): Promise<void> {
  await reader.stop();
  await pty.stop();
}

async function replug(): Promise<void> {
  await pty.start();
  await reader.start();
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pos-reader-'));
  pty = new PtyPair(join(dir, 'reader'), join(dir, 'reader.sim'));
  await pty.start();
  reader = new ReaderSim({ path: pty.simPath, tapDelayMs: 50 });
  await reader.start();
  client = new CardReaderClient({ path: pty.devicePath, ...OPTIONS }, { logger: silentLogger });
  events = [];
  client.on('event', (e: ReaderEvent) => events.push(e));
  expect(await client.connect()).toBe(true);
});

async function replaceClient(options: Partial<ReaderOptions>): Promise<void> {
  await client.close();
  client = new CardReaderClient({ path: pty.devicePath, ...OPTIONS, ...options }, { logger: silentLogger });
  client.on('event', (e: ReaderEvent) => events.push(e));
  expect(await client.connect()).toBe(true);
}

afterEach(async () => {
  await client.close();
  await reader.stop();
  await pty.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sale = { amount: 1234, currency: 'CNY', timeoutMs: 10_000 };

describe('card reader over a real pty', () => {
  it('reads each kind of card: masked PAN, token and a blob only the host can open', async () => {
    reader.presentCard('mc-contactless');
    const tap = await client.read(sale);
    expect(tap).toMatchObject({ maskedPan: '555555******4444', last4: '4444', entryMode: 'CTLS', expiry: '2911' });
    expect(decryptCardData(tap.encryptedBlob).pan).toBe('5555555555554444');
    reader.presentCard('unionpay-swipe');
    expect((await client.read(sale)).entryMode).toBe('SWIPE');
    reader.presentCard('visa-expired');
    expect((await client.read(sale)).expiry).toBe('2301');
    reader.presentCard('unreadable');
    await expect(client.read(sale)).rejects.toMatchObject({ code: 'READER_CARD_READ_FAILED' });
    await until('the tap event', () => events.some((e) => e.type === 'CARD_TAPPED'));
    expect(await client.info()).toMatchObject({ model: 'SR-100' });
  });

  it('retransmits corrupted answers and the READ still succeeds', async () => {
    reader.corruptAnswers(2);
    const card = await client.read(sale);
    expect(card.last4).toBe('1111');
    expect(reader.naksReceived).toEqual(['CHECKSUM', 'CHECKSUM']);
  });

  it('retransmits a command the reader received damaged, and the READ still succeeds', async () => {
    reader.damageIncoming(2);
    expect((await client.read(sale)).last4).toBe('1111');
    expect(reader.naksSent).toEqual(['CHECKSUM', 'CHECKSUM']);
    expect(reader.received.filter((f) => f.command === 'READ')).toHaveLength(1);
  });

  it('fails with READER_LINK_ERROR when every transmission arrives damaged', async () => {
    reader.corruptAnswers(3);
    const err = await rejection(client.read(sale));
    expect(err).toBeInstanceOf(ReaderLinkError);
    expect(reader.naksReceived).toHaveLength(2);
    await until('the reader to finish', () => reader.state === 'IDLE');
    expect((await client.status()).state).toBe('IDLE');
  });

  it('survives garbage, answers split into pieces, frames merged into one write, and an overlong line', async () => {
    reader.sendGarbage();
    reader.splitAnswers(1);
    expect((await client.read(sale)).last4).toBe('1111');
    reader.presentCard('mc-contactless');
    reader.mergeNextFrames();
    expect((await client.read(sale)).last4).toBe('4444');
    await until('the tap event merged with the answer', () => events.some((e) => e.type === 'CARD_TAPPED'));
    reader.once('command', () => reader.sendOverlong(3000));
    expect((await client.read(sale)).last4).toBe('1111');
    await until('the overlong line to be counted', () => client.lineStats?.overlong === 1);
    expect(client.state).toBe('connected');
  });

  it('a hung reader yields ReaderTimeoutError, not a hang, and a READ that timed out is cancelled', async () => {
    await replaceClient({ healthProbeMs: 0 });
    reader.hang();
    const info = await rejection(client.info());
    expect(info).toBeInstanceOf(ReaderTimeoutError);
    const read = await rejection(client.read({ ...sale, timeoutMs: 500 }));
    expect(read).toBeInstanceOf(ReaderTimeoutError);
    expect(read).toMatchObject({ code: 'READER_TIMEOUT', details: { command: 'READ', timeoutMs: 2000 } });
    await until('the CANCEL after the READ timeout', () => reader.received.some((f) => f.command === 'CANCEL'));
    reader.hang(false);
    await expect(client.status()).resolves.toMatchObject({ state: 'IDLE' });
  });

  it('a slow reader is waited for up to the command timeout; slower is a timeout whose late answer is discarded', async () => {
    await replaceClient({ healthProbeMs: 0 });
    reader.answerDelayMs = 300;
    expect(await client.info()).toMatchObject({ vendor: 'SIMCO' });
    reader.answerDelayMs = 2500;
    await expect(client.info()).rejects.toBeInstanceOf(ReaderTimeoutError);
    reader.answerDelayMs = 0;
    await until('the late INFO answer to arrive', () => (client.lineStats?.lines ?? 0) >= 2);
    await expect(client.status()).resolves.toMatchObject({ state: 'IDLE' });
  });

  it('the health probe takes a hung reader off the link, and the link comes back when it answers again', async () => {
    const states: string[] = [];
    client.on('state', (s: string) => states.push(s));
    reader.hang();
    await until('the probe to give up on the reader', () => states.includes('disconnected'));
    reader.hang(false);
    await until('the link to be up again', () => client.state === 'connected');
    await expect(client.status()).resolves.toMatchObject({ state: 'IDLE' });
  });

  it('unplug during READ: typed ReaderDisconnectedError long before the READ timeout, reconnect on replug, next READ succeeds', async () => {
    reader.presentNothing();
    // The READ's own timeout (120 s + margin) is far beyond the test's: only the port's
    // close, a failed write or the health probe can end it in time, and they must end it typed.
    const read = handled(client.read({ ...sale, timeoutMs: 120_000 }));
    await until('the READ to reach the reader', () => reader.state === 'READING');
    await unplug();
    const err = await rejection(read);
    expect(err).toBeInstanceOf(ReaderDisconnectedError);
    expect(err).toMatchObject({ code: 'READER_DISCONNECTED' });
    expect(client.state).not.toBe('connected');
    await expect(client.read(sale)).rejects.toBeInstanceOf(ReaderDisconnectedError);

    await replug();
    expect(await client.waitConnected(WAIT_MS)).toBe(true);
    reader.presentCard('visa-chip');
    expect((await client.read(sale)).last4).toBe('1111');
  });

  it('unplug while idle is noticed by the health probe; replug brings the link back', async () => {
    const states: string[] = [];
    client.on('state', (s: string) => states.push(s));
    await unplug();
    await until('the probe to notice', () => client.state !== 'connected');
    await replug();
    expect(await client.waitConnected(WAIT_MS)).toBe(true);
    expect(states[0]).toBe('disconnected');
    expect(states.at(-1)).toBe('connected');
    expect(await client.info()).toMatchObject({ vendor: 'SIMCO' });
  });
});

describe('cancel mid-read over a real pty', () => {
  it('from the terminal: client.cancel() ends the READ as READER_CANCELLED and the reader is idle again', async () => {
    reader.presentNothing();
    const read = handled(client.read({ ...sale, timeoutMs: 60_000 }));
    await until('the READ to reach the reader', () => reader.state === 'READING');
    await client.cancel();
    await expect(read).rejects.toMatchObject({ code: 'READER_CANCELLED' });
    expect(reader.state).toBe('IDLE');
    expect(reader.received.map((f) => f.command)).toEqual(['READ', 'CANCEL']);
    expect((await client.read(sale)).last4).toBe('1111');
  });

  it("from the cardholder: the reader's cancel key ends the READ, with no KEY event", async () => {
    reader.presentNothing();
    const read = handled(client.read({ ...sale, timeoutMs: 60_000 }));
    await until('the READ to reach the reader', () => reader.state === 'READING');
    reader.pressKey('CANCEL');
    await expect(read).rejects.toMatchObject({ code: 'READER_CANCELLED' });
    expect(events.filter((e) => e.type === 'KEY')).toEqual([]);
    reader.pressKey('5');
    await until('the idle key event', () => events.some((e) => e.type === 'KEY'));
    expect(events.filter((e) => e.type === 'KEY')).toEqual([{ type: 'KEY', key: '5' }]);
  });

  it('a READ with no card ends READER_NO_CARD from the reader itself', async () => {
    reader.presentNothing();
    await expect(client.read({ ...sale, timeoutMs: 300 })).rejects.toMatchObject({ code: 'READER_NO_CARD' });
  });
});

describe('PIN entry over a real pty', () => {
  it('returns a format 4 PIN block under a fresh DUKPT PIN key that the host opens with the BDK and the KSN, or BYPASSED, with no KEY events', async () => {
    reader.presentCard('visa-chip');
    await client.read(sale);
    reader.enterPin('4321');
    const entered = await client.pin(10_000);
    expect(entered.bypassed).toBe(false);
    if (entered.bypassed) return;
    expect(entered.pinBlock).toHaveLength(16);
    expect(decipherPinBlock4(workingKeyFromBdk(TEST_BDK, entered.ksn, 'pinEncryption'), entered.pinBlock, '4111111111111111')).toBe('4321');
    reader.enterPin('4321');
    const again = await client.pin(10_000);
    // The same PIN again: another KSN, so another key and another block.
    expect(again.bypassed === false && !again.ksn.equals(entered.ksn) && !again.pinBlock.equals(entered.pinBlock)).toBe(true);
    reader.bypassPin();
    expect(await client.pin(10_000)).toEqual({ bypassed: true });
    reader.cancelPin();
    await expect(client.pin(10_000)).rejects.toMatchObject({ code: 'READER_CANCELLED' });
    expect(events.filter((e) => e.type === 'KEY')).toEqual([]);
  });
});
