import { afterEach, describe, expect, it } from 'vitest';
import { SerialPortMock } from 'serialport';
import { silentLogger } from '../../drivers/base/logger.js';
import { isPosError } from '../../drivers/base/errors.js';
import { CardReaderClient, type ReaderLinkState } from '../../drivers/card-reader/client.js';
import { ReaderCommandError, ReaderDisconnectedError, ReaderLinkError, ReaderTimeoutError } from '../../drivers/card-reader/errors.js';
import { encodeFrame, enc64, parseFrame, type Frame } from '../../drivers/card-reader/frame.js';
import { ReaderOptionsError, resolveReaderOptions, type ReaderOptions } from '../../drivers/card-reader/options.js';
import type { ReaderEvent } from '../../drivers/card-reader/types.js';
import { defaultPortFactory, type PortFactory } from '../../drivers/serial/port-factory.js';
import { FakeClock, fakePortFactory } from '../support/fake-serial.js';

const wire = (f: Frame) => encodeFrame(f);
const answer = (seq: string, command: string, ...fields: string[]) => wire({ seq, command, fields });
/** The frame with the last digit of its checksum changed: what one flipped bit on the line looks like to the receiver. */
const damaged = (text: string) => text.slice(0, -3) + (text[text.length - 3] === '0' ? '1' : '0') + '\r\n';
const TOKEN = 'ab'.repeat(32);
const BLOB = Buffer.alloc(60, 7).toString('base64');
const READ_OK = ['OK', '411111******1111', '2812', 'CHIP', TOKEN, BLOB, 'ALWAYS'];

async function rig(options: Partial<ReaderOptions> = {}) {
  const ports = fakePortFactory();
  const clock = new FakeClock();
  const client = new CardReaderClient(
    {
      path: '/dev/ttyFAKE0',
      healthProbeMs: 0,
      commandTimeoutMs: 1000,
      interactiveMarginMs: 1000,
      reconnectMinMs: 100,
      reconnectMaxMs: 800,
      ...options,
    },
    { logger: silentLogger, clock, portFactory: ports.factory },
  );
  const states: ReaderLinkState[] = [];
  client.on('state', (s: ReaderLinkState) => states.push(s));
  expect(await client.connect()).toBe(true);
  const sent = () => ports.current.frames.map((l) => parseFrame(l));
  /** Waits (a few turns of the event loop, no time passes on the clock) until the driver has written its `n`-th frame. */
  const nth = async (n: number) => {
    for (let i = 0; i < 50 && ports.current.frames.length < n; i++) await turn();
    const f = sent()[n - 1];
    if (!f) throw new Error(`driver wrote ${ports.current.frames.length} frames, expected ${n}`);
    return f;
  };
  return { client, clock, ports, states, sent, nth, feed: (s: string | Buffer) => ports.current.feed(s) };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

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

describe('CardReaderClient: commands and answers', () => {
  it('sends numbered frames and returns the answer fields', async () => {
    const { client, nth, feed } = await rig();
    const info = handled(client.info());
    expect(await nth(1)).toEqual({ seq: '1', command: 'INFO', fields: [] });
    feed(answer('1', 'INFO', 'OK', 'ACME', 'SR-100', 'SN1', '1.4.2'));
    expect(await info).toEqual({ vendor: 'ACME', model: 'SR-100', serial: 'SN1', firmware: '1.4.2' });
    const status = handled(client.status());
    expect(await nth(2)).toEqual({ seq: '2', command: 'STATUS', fields: [] });
    feed(answer('2', 'STATUS', 'OK', 'IDLE', '1'));
    expect(await status).toEqual({ state: 'IDLE', cardPresent: true });
  });

  it('keeps one command outstanding: the second waits for the first answer', async () => {
    const { client, nth, feed, sent } = await rig();
    const a = handled(client.beep(2, 150));
    const b = handled(client.display('合计 ¥12.34', 'Insert card'));
    await nth(1);
    expect(sent()).toHaveLength(1);
    feed(answer('1', 'BEEP', 'OK'));
    await a;
    expect(await nth(2)).toEqual({ seq: '2', command: 'DISPLAY', fields: [enc64('合计 ¥12.34'), enc64('Insert card')] });
    feed(answer('2', 'DISPLAY', 'OK'));
    await b;
  });

  it('cuts a display line at 256 bytes of UTF-8 without splitting a character', async () => {
    const { client, nth, feed } = await rig();
    const p = handled(client.display('合'.repeat(100)));
    const shown = Buffer.from((await nth(1)).fields[0]!, 'base64').toString('utf8');
    expect(shown).toBe('合'.repeat(85));
    feed(answer('1', 'DISPLAY', 'OK'));
    await p;
  });

  it('maps the reader ERR codes to typed errors', async () => {
    const { client, nth, feed } = await rig();
    const read = handled(client.read({ amount: 1234, currency: 'CNY', timeoutMs: 30000 }));
    expect(await nth(1)).toEqual({ seq: '1', command: 'READ', fields: ['1234', 'CNY', '30000'] });
    feed(answer('1', 'READ', 'ERR', 'TIMEOUT'));
    expect(await rejection(read)).toMatchObject({ code: 'READER_NO_CARD', readerCode: 'TIMEOUT' });

    const pin = handled(client.pin(20000));
    await nth(2);
    feed(answer('2', 'PIN', 'ERR', 'TIMEOUT'));
    expect(await rejection(pin)).toMatchObject({ code: 'READER_PIN_TIMEOUT' });

    const failed = handled(client.read({ amount: 1, currency: 'CNY', timeoutMs: 1000 }));
    await nth(3);
    feed(answer('3', 'READ', 'ERR', 'CARD_READ_FAILED', enc64('chip error')));
    expect(await rejection(failed)).toMatchObject({ code: 'READER_CARD_READ_FAILED' });

    // A code that could carry digits is neither kept nor echoed.
    const odd = handled(client.read({ amount: 1, currency: 'CNY', timeoutMs: 1000 }));
    await nth(4);
    feed(answer('4', 'READ', 'ERR', '4111111111111111'));
    const err = await rejection(odd);
    expect(err).toMatchObject({ code: 'READER_CARD_READ_FAILED', readerCode: 'INVALID' });
    expect(`${err.message} ${JSON.stringify((err as ReaderCommandError).details)}`).not.toContain('4111111111111111');
  });

  it('returns the enciphered format 4 PIN block with its KSN, or BYPASSED; refuses an 8-byte block or a block without KSN', async () => {
    const { client, nth, feed } = await rig();
    const block = Buffer.from('64CE3DD1385615AC87B5295121C42BA5', 'hex');
    const ksn = Buffer.from('123456789012345600000003', 'hex');
    const p1 = handled(client.pin(30000));
    await nth(1);
    feed(answer('1', 'PIN', 'OK', block.toString('base64'), ksn.toString('base64')));
    expect(await p1).toEqual({ bypassed: false, pinBlock: block, ksn });
    const p2 = handled(client.pin(30000));
    await nth(2);
    feed(answer('2', 'PIN', 'OK', 'BYPASSED'));
    expect(await p2).toEqual({ bypassed: true });
    const p3 = handled(client.pin(30000));
    await nth(3);
    feed(answer('3', 'PIN', 'OK', Buffer.alloc(8).toString('base64'), ksn.toString('base64')));
    expect(await rejection(p3)).toMatchObject({ code: 'READER_PROTOCOL' });
    const p4 = handled(client.pin(30000));
    await nth(4);
    feed(answer('4', 'PIN', 'OK', block.toString('base64')));
    expect(await rejection(p4)).toMatchObject({ code: 'READER_PROTOCOL' });
  });

  it('refuses requests the protocol cannot carry without sending them', async () => {
    const { client, sent } = await rig();
    await expect(client.read({ amount: 1e13, currency: 'CNY', timeoutMs: 1000 })).rejects.toMatchObject({ code: 'READER_BAD_REQUEST' });
    await expect(client.read({ amount: 100, currency: 'cny', timeoutMs: 1000 })).rejects.toMatchObject({ code: 'READER_BAD_REQUEST' });
    await expect(client.beep(0)).rejects.toMatchObject({ code: 'READER_BAD_REQUEST' });
    expect(sent()).toEqual([]);
  });

  it('emits unsolicited events and ignores kinds it does not know', async () => {
    const { client, feed } = await rig();
    const events: ReaderEvent[] = [];
    client.on('event', (e: ReaderEvent) => events.push(e));
    feed(
      answer('E1', 'EVENT', 'CARD_INSERTED') +
        answer('E2', 'EVENT', 'KEY', 'CANCEL') +
        answer('E3', 'EVENT', 'LID_OPEN') +
        answer('E4', 'EVENT', 'KEY', 'X'),
    );
    feed(answer('E5', 'EVENT', 'CARD_REMOVED'));
    await turn();
    expect(events).toEqual([{ type: 'CARD_INSERTED' }, { type: 'KEY', key: 'CANCEL' }, { type: 'CARD_REMOVED' }]);
  });
});

describe('CardReaderClient: NAK and retransmission', () => {
  it('NAKs a damaged answer with its seq and accepts the retransmission', async () => {
    const { client, nth, feed } = await rig();
    const status = handled(client.status());
    await nth(1);
    feed(damaged(answer('1', 'STATUS', 'OK', 'IDLE', '0')));
    expect(await nth(2)).toEqual({ seq: '1', command: 'NAK', fields: ['CHECKSUM'] });
    feed(answer('1', 'STATUS', 'OK', 'IDLE', '0'));
    expect(await status).toEqual({ state: 'IDLE', cardPresent: false });
  });

  it('gives up with READER_LINK_ERROR when the third transmission of an answer is damaged too, after 2 NAKs', async () => {
    const { client, nth, feed, sent } = await rig();
    const read = handled(client.read({ amount: 500, currency: 'USD', timeoutMs: 20000 }));
    await nth(1);
    const good = answer('1', 'READ', ...READ_OK);
    feed(damaged(good));
    await nth(2);
    feed(damaged(good));
    await nth(3);
    feed(damaged(good));
    const err = await rejection(read);
    expect(err).toBeInstanceOf(ReaderLinkError);
    expect(err).toMatchObject({ code: 'READER_LINK_ERROR', details: { transmissions: 3 } });
    expect(sent().filter((f) => f.command === 'NAK')).toHaveLength(2);
    expect(err.message).not.toContain('411111');
  });

  it('retransmits the same bytes on a NAK and fails after the third transmission is NAKed', async () => {
    const { client, nth, feed, ports } = await rig();
    const info = handled(client.info());
    await nth(1);
    feed(answer('1', 'NAK', 'CHECKSUM'));
    await nth(2);
    feed(answer('0', 'NAK', 'SYNTAX'));
    await nth(3);
    expect(new Set(ports.current.frames)).toEqual(new Set(['$1,INFO*13']));
    feed(answer('1', 'NAK', 'CHECKSUM'));
    expect(await rejection(info)).toMatchObject({ code: 'READER_LINK_ERROR', details: { reason: 'CHECKSUM', transmissions: 3 } });
    expect(ports.current.frames).toHaveLength(3);
  });

  it('ignores a NAK for a seq that is not outstanding', async () => {
    const { client, nth, feed, sent } = await rig();
    const info = handled(client.info());
    await nth(1);
    feed(answer('77', 'NAK', 'CHECKSUM'));
    feed(answer('1', 'INFO', 'OK', 'A', 'B', 'C', 'D'));
    await info;
    expect(sent()).toHaveLength(1);
  });

  it('never NAKs a damaged event or a damaged NAK, and stays silent while nothing is outstanding', async () => {
    const { client, nth, feed, sent } = await rig();
    feed(damaged(answer('5', 'STATUS', 'OK', 'IDLE', '0')));
    feed('noise without a frame\r\n');
    await turn();
    const info = handled(client.info());
    await nth(1);
    feed(damaged(answer('E3', 'EVENT', 'CARD_INSERTED')));
    feed(damaged(answer('1', 'NAK', 'CHECKSUM')));
    feed(answer('1', 'INFO', 'OK', 'A', 'B', 'C', 'D'));
    await info;
    expect(sent().map((f) => f.command)).toEqual(['INFO']);
  });

  it('NAKs garbage with seq 0 while a command is outstanding, then takes the good answer', async () => {
    const { client, nth, feed } = await rig();
    const info = handled(client.info());
    await nth(1);
    feed(Buffer.from([0x00, 0xff, 0x13, 0x24, 0x2a, 0x0d, 0x0a]));
    expect(await nth(2)).toEqual({ seq: '0', command: 'NAK', fields: ['SYNTAX'] });
    feed(answer('1', 'INFO', 'OK', 'A', 'B', 'C', 'D'));
    expect((await info).vendor).toBe('A');
  });

  it('drops an overlong line without holding it, NAKs it OVERLONG, and reads the next line', async () => {
    const { client, nth, feed } = await rig();
    const read = handled(client.read({ amount: 1, currency: 'CNY', timeoutMs: 1000 }));
    await nth(1);
    feed('$1,READ,OK,' + 'A'.repeat(3000));
    expect(client.lineStats?.pendingBytes).toBe(0);
    feed('\r\n');
    expect(await nth(2)).toEqual({ seq: '0', command: 'NAK', fields: ['OVERLONG'] });
    expect(client.lineStats?.overlong).toBe(1);
    feed(answer('1', 'READ', ...READ_OK));
    expect((await read).last4).toBe('1111');
  });
});

describe('CardReaderClient: timeouts', () => {
  it('fails a command with ReaderTimeoutError, never re-sends it, and discards the late answer', async () => {
    const { client, clock, nth, feed, sent } = await rig({ commandTimeoutMs: 1000 });
    const info = handled(client.info());
    await nth(1);
    clock.advance(999);
    await Promise.resolve();
    clock.advance(1);
    const err = await rejection(info);
    expect(err).toBeInstanceOf(ReaderTimeoutError);
    expect(err).toMatchObject({ code: 'READER_TIMEOUT', details: { command: 'INFO', timeoutMs: 1000 } });
    feed(answer('1', 'INFO', 'OK', 'late', 'B', 'C', 'D'));
    const status = handled(client.status());
    expect(await nth(2)).toMatchObject({ seq: '2', command: 'STATUS' });
    feed(answer('2', 'STATUS', 'OK', 'IDLE', '0'));
    await status;
    expect(sent().filter((f) => f.command === 'INFO')).toHaveLength(1);
  });

  it('gives READ its own timeout plus the margin, then sends CANCEL so the reader returns to idle', async () => {
    const { client, clock, nth, sent } = await rig({ interactiveMarginMs: 2000 });
    const read = handled(client.read({ amount: 100, currency: 'CNY', timeoutMs: 30000 }));
    await nth(1);
    clock.advance(31_999);
    expect(sent()).toHaveLength(1);
    clock.advance(1);
    expect(await rejection(read)).toMatchObject({ code: 'READER_TIMEOUT', details: { command: 'READ', timeoutMs: 32000 } });
    expect(sent()[1]).toEqual({ seq: '2', command: 'CANCEL', fields: [] });
  });

  it('restarts the timer in full on each retransmission', async () => {
    const { client, clock, nth, feed } = await rig({ commandTimeoutMs: 1000 });
    const info = handled(client.info());
    await nth(1);
    clock.advance(900);
    feed(answer('1', 'NAK', 'CHECKSUM'));
    await nth(2);
    clock.advance(900);
    feed(answer('1', 'INFO', 'OK', 'A', 'B', 'C', 'D'));
    expect((await info).vendor).toBe('A');
  });
});

describe('CardReaderClient: cancel', () => {
  it('sends CANCEL alongside an outstanding READ; the READ ends CANCELLED', async () => {
    const { client, nth, feed } = await rig();
    const read = handled(client.read({ amount: 500, currency: 'USD', timeoutMs: 20000 }));
    await nth(1);
    const cancelled = client.cancel();
    expect(await nth(2)).toEqual({ seq: '2', command: 'CANCEL', fields: [] });
    feed(answer('1', 'READ', 'ERR', 'CANCELLED') + answer('2', 'CANCEL', 'OK'));
    await cancelled;
    const err = await rejection(read);
    expect(err).toBeInstanceOf(ReaderCommandError);
    expect(err).toMatchObject({ code: 'READER_CANCELLED' });
  });

  it('drops card data that arrives after the terminal cancelled', async () => {
    const { client, nth, feed } = await rig();
    const read = handled(client.read({ amount: 500, currency: 'USD', timeoutMs: 20000 }));
    await nth(1);
    const cancelled = client.cancel();
    await nth(2);
    feed(answer('1', 'READ', ...READ_OK));
    feed(answer('2', 'CANCEL', 'OK'));
    await cancelled;
    expect(await rejection(read)).toMatchObject({ code: 'READER_CANCELLED' });
  });

  it('ends the READ when CANCEL is confirmed first, whatever comes after', async () => {
    const { client, nth, feed } = await rig();
    const read = handled(client.read({ amount: 500, currency: 'USD', timeoutMs: 20000 }));
    await nth(1);
    const cancelled = client.cancel();
    await nth(2);
    feed(answer('2', 'CANCEL', 'OK'));
    await cancelled;
    expect(await rejection(read)).toMatchObject({ code: 'READER_CANCELLED' });
    feed(answer('1', 'READ', 'ERR', 'CANCELLED'));
  });

  it('refuses a READ still waiting in the queue without sending it', async () => {
    const { client, nth, feed, sent } = await rig();
    const display = handled(client.display('Total', ''));
    const read = handled(client.read({ amount: 500, currency: 'USD', timeoutMs: 20000 }));
    await nth(1);
    await client.cancel();
    feed(answer('1', 'DISPLAY', 'OK'));
    await display;
    expect(await rejection(read)).toMatchObject({ code: 'READER_CANCELLED' });
    expect(sent().map((f) => f.command)).toEqual(['DISPLAY']);
  });

  it('reports the cardholder cancel key as READER_CANCELLED', async () => {
    const { client, nth, feed } = await rig();
    const read = handled(client.read({ amount: 500, currency: 'USD', timeoutMs: 20000 }));
    await nth(1);
    feed(answer('1', 'READ', 'ERR', 'CANCELLED'));
    expect(await rejection(read)).toMatchObject({ code: 'READER_CANCELLED' });
  });

  it('resolves at once with nothing to cancel', async () => {
    const { client, sent } = await rig();
    await client.cancel();
    expect(sent()).toEqual([]);
  });
});

describe('CardReaderClient: unplug, health probe and reconnect', () => {
  it('probes an idle link with STATUS and marks the reader disconnected when it does not answer', async () => {
    const { client, clock, nth, feed, states } = await rig({ healthProbeMs: 5000, commandTimeoutMs: 1000 });
    clock.advance(5000);
    expect(await nth(1)).toMatchObject({ command: 'STATUS' });
    feed(answer('1', 'STATUS', 'OK', 'IDLE', '0'));
    await turn();
    clock.advance(5000);
    expect(await nth(2)).toMatchObject({ seq: '2', command: 'STATUS' });
    clock.advance(1000);
    await turn();
    expect(client.state).toBe('disconnected');
    expect(states).toEqual(['connecting', 'connected', 'disconnected']);
  });

  it('detects a vanished port during a READ from the failing write of the probe, within healthProbeMs', async () => {
    const { client, clock, nth, ports } = await rig({ healthProbeMs: 2000 });
    const read = handled(client.read({ amount: 100, currency: 'CNY', timeoutMs: 60000 }));
    await nth(1);
    ports.current.failWrites = true;
    clock.advance(2000);
    const err = await rejection(read);
    expect(err).toBeInstanceOf(ReaderDisconnectedError);
    expect(err).toMatchObject({ code: 'READER_DISCONNECTED' });
    expect(client.state).toBe('disconnected');
  });

  it('reconnects with doubling backoff while the path is gone, then works again', async () => {
    const { client, clock, ports, nth, states } = await rig({ healthProbeMs: 1000, reconnectMinMs: 100, reconnectMaxMs: 400 });
    const opensBefore = ports.opens;
    ports.unavailable = true;
    ports.current.failWrites = true;
    clock.advance(1000);
    await client.status().catch((e: unknown) => expect(e).toBeInstanceOf(ReaderDisconnectedError));
    const settle = async () => {
      for (let i = 0; i < 10; i++) await Promise.resolve();
    };
    await settle();
    expect(client.state).toBe('disconnected');
    const at = (ms: number) => {
      clock.advance(ms);
      return settle().then(() => ports.opens - opensBefore);
    };
    expect(await at(99)).toBe(0);
    expect(await at(1)).toBe(1);
    expect(await at(200)).toBe(2);
    expect(await at(400)).toBe(3);
    expect(await at(400)).toBe(4);
    ports.unavailable = false;
    expect(await at(400)).toBe(5);
    expect(client.state).toBe('connected');
    expect(states.slice(-1)).toEqual(['connected']);
    const info = handled(client.info());
    expect(await nth(1)).toMatchObject({ command: 'INFO' });
    ports.current.feed(answer(String((await nth(1)).seq), 'INFO', 'OK', 'A', 'B', 'C', 'D'));
    expect((await info).vendor).toBe('A');
  });

  it('fails commands at once while disconnected, with a typed error', async () => {
    const { client } = await rig();
    await client.close();
    await expect(client.info()).rejects.toBeInstanceOf(ReaderDisconnectedError);
    await expect(client.cancel()).resolves.toBeUndefined();
  });
});

describe('CardReaderClient over the MockBinding port factory', () => {
  afterEach(() => SerialPortMock.binding.reset());

  it('opens a mock: path through the default factory and exchanges frames', async () => {
    SerialPortMock.binding.createPort('mock:reader', { record: true });
    let port: SerialPortMock | undefined;
    const portFactory: PortFactory = (path, baudRate) => {
      const link = defaultPortFactory(path, baudRate);
      port = link as unknown as SerialPortMock;
      return link;
    };
    const client = new CardReaderClient({ path: 'mock:reader', healthProbeMs: 0 }, { logger: silentLogger, portFactory });
    expect(await client.connect()).toBe(true);
    expect(port).toBeInstanceOf(SerialPortMock);
    if (!port) return;
    const info = handled(client.info());
    for (let i = 0; i < 100 && !port.port?.recording.toString().includes('$1,INFO*13\r\n'); i++) await new Promise((r) => setTimeout(r, 5));
    port.port!.emitData(damaged(answer('1', 'INFO', 'OK', 'A', 'B', 'C', 'D')));
    for (let i = 0; i < 100 && !port.port?.recording.toString().includes('$1,NAK,CHECKSUM'); i++)
      await new Promise((r) => setTimeout(r, 5));
    port.port!.emitData(answer('1', 'INFO', 'OK', 'A', 'B', 'C', 'D'));
    expect((await info).model).toBe('B');
    await client.close();
  });
});

describe('reader options', () => {
  it('has the documented defaults and refuses nonsense with a typed error', () => {
    expect(resolveReaderOptions({ path: '/dev/ttyS1' })).toMatchObject({
      commandTimeoutMs: 2000,
      maxTransmissions: 3,
      healthProbeMs: 5000,
    });
    for (const bad of [
      { commandTimeoutMs: 0 },
      { maxTransmissions: 1.5 },
      { healthProbeMs: -1 },
      { reconnectMinMs: 500, reconnectMaxMs: 100 },
      { maxLineLength: 100 },
    ]) {
      const attempt = () => resolveReaderOptions({ path: '/dev/ttyS1', ...bad });
      expect(attempt).toThrow(ReaderOptionsError);
    }
    expect(() => resolveReaderOptions({ path: '' })).toThrow(ReaderOptionsError);
    expect(isPosError(new ReaderOptionsError('x', 'y'))).toBe(true);
  });
});
