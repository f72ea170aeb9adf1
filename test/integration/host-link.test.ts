import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { HostProtocolError, HostTimeoutError, HostUnreachableError } from '../../firmware-app/host/errors.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { HostLink, type HostLinkOptions, type LinkState } from '../../firmware-app/host/link.js';
import { createLogger } from '../../firmware-app/logging/logger.js';
import { financialRequest } from '../../firmware-app/host/messages.js';
import { encryptCardData } from '../../sim/cards.js';
import { HostSim } from '../../sim/host/host-sim.js';
import { ManualClock } from '../support/manual-clock.js';

/** The real link against the real simulated host over loopback TCP. */
const IDENTITY = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };
const BLOB = encryptCardData({ pan: '4111111111111111', expiry: '2812', entryMode: 'CHIP' });

let host: HostSim;
let link: HostLink;
let stan = 0;
const nextStan = () => String(++stan).padStart(6, '0');

function sale(amount: number): IsoMessage {
  return financialRequest(IDENTITY, {
    kind: 'sale',
    stan: nextStan(),
    amount,
    currency: 'CNY',
    at: new Date(),
    entryMode: 'CHIP',
    expiry: '2812',
    encryptedBlob: BLOB,
    batchNumber: 1,
  });
}

function startLink(overrides: Partial<HostLinkOptions> = {}, clock?: Clock, logger: Logger = silentLogger): HostLink {
  link = new HostLink(
    {
      address: '127.0.0.1',
      port: host.port,
      connectTimeoutMs: 5000,
      reconnectMinMs: 100,
      reconnectMaxMs: 500,
      echoIntervalMs: 60_000,
      echoTimeoutMs: 5000,
      probeAfterMs: 3000,
      identity: IDENTITY,
      ...overrides,
    },
    { logger, nextStan, clock },
  );
  link.start();
  return link;
}

function nextState(l: HostLink, want: LinkState, timeoutMs = 20_000): Promise<void> {
  if (l.state === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`link never became ${want} (is ${l.state})`)), timeoutMs);
    const on = (s: LinkState) => {
      if (s !== want) return;
      clearTimeout(timer);
      l.off('state', on);
      resolve();
    };
    l.on('state', on);
  });
}

beforeEach(async () => {
  host = new HostSim();
  await host.start();
});

afterEach(async () => {
  await link?.stop();
  await host.stop();
});

describe('host link over loopback TCP', () => {
  it('signs on after connecting and is online only once the host answered the sign-on', async () => {
    const states: LinkState[] = [];
    startLink().on('state', (s: LinkState) => states.push(s));
    expect(await link.waitOnline(20_000)).toBe(true);
    expect(states).toEqual(['degraded', 'online']);
    expect(host.received.map((r) => [r.message.mti, r.message.fields.get(70)])).toEqual([['0800', '001']]);
  });

  it('writes each message sent and each answer to the log once a technician turns debug on, and none at info', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-link-log-')), 'pos.log');
    const root = createLogger({ level: 'info', destination: { file } });
    startLink({}, undefined, root.child('host'));
    await nextState(link, 'online');
    await link.request(sale(1200), 5000);
    root.setLevel('debug');
    const traced = sale(3400);
    await link.request(traced, 5000);
    root.flush();
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"sent to host"') || l.includes('"host answer"'))
      .map((l) => JSON.parse(l) as { msg: string; message?: string; stan?: string; responseCode?: string });
    root.close();
    expect(lines.map((l) => l.msg)).toEqual(['sent to host', 'host answer']);
    expect(lines[0]!.message).toContain(`11="${String(traced.fields.get(11))}"`);
    expect(lines[1]).toMatchObject({ stan: traced.fields.get(11), responseCode: '00' });
  });

  it('stays degraded when the host refuses the sign-on', async () => {
    await host.stop();
    host = new HostSim({ knownTerminals: ['TERM9999'] });
    await host.start();
    const refused = new Promise<string>((resolve) => startLink().once('sign-on-refused', resolve));
    expect(await refused).toBe('03');
    expect(link.state).toBe('degraded');
  });

  it('matches 16 sales in flight at once to their own answers, whatever order the answers come in', async () => {
    startLink();
    expect(await link.waitOnline(20_000)).toBe(true);
    // The first request is answered last, the last first.
    for (let i = 0; i < 16; i++) host.queue({ type: 'delay', ms: (16 - i) * 40, then: { type: 'approve' } });
    const requests = Array.from({ length: 16 }, (_, i) => sale(100 + i));
    const answeredOrder: string[] = [];
    const answers = await Promise.all(
      requests.map((r) =>
        link.request(r, 20_000).then((a) => {
          answeredOrder.push(String(a.fields.get(11)));
          return a;
        }),
      ),
    );
    expect(link.inFlightCount).toBe(0);
    requests.forEach((r, i) => {
      expect(answers[i]!.mti).toBe('0210');
      expect(answers[i]!.fields.get(11)).toBe(r.fields.get(11));
      expect(answers[i]!.fields.get(4)).toBe(r.fields.get(4));
      expect(answers[i]!.fields.get(39)).toBe('00');
      expect(host.ledger.get('TERM0001', String(r.fields.get(11)))).toMatchObject({ status: 'posted', amount: 100 + i });
    });
    expect(answeredOrder).toEqual(requests.map((r) => String(r.fields.get(11))).reverse());
  });

  it('ignores a duplicated answer and reports it as unmatched', async () => {
    startLink();
    expect(await link.waitOnline(20_000)).toBe(true);
    host.queue({ type: 'duplicate' });
    const unmatched = new Promise<IsoMessage>((resolve) => link.once('unmatched', resolve));
    const req = sale(500);
    const answer = await link.request(req, 20_000);
    expect(answer.fields.get(39)).toBe('00');
    expect((await unmatched).fields.get(11)).toBe(req.fields.get(11));
    expect(host.ledger.posted()).toHaveLength(1);
    expect(link.state).toBe('online');
  });

  it('drops an unreadable frame and still matches the answer behind it', async () => {
    startLink();
    expect(await link.waitOnline(20_000)).toBe(true);
    host.queue({ type: 'garbage' });
    const answer = await link.request(sale(700), 20_000);
    expect(answer.fields.get(39)).toBe('00');
    expect(link.state).toBe('online');
  });

  it('goes offline when the host goes down, refuses nothing-sent requests as unreachable, and comes back on the same port', async () => {
    startLink();
    expect(await link.waitOnline(20_000)).toBe(true);
    const offline = nextState(link, 'offline');
    await host.stop();
    await offline;
    await expect(link.request(sale(100), 5000)).rejects.toBeInstanceOf(HostUnreachableError);
    await host.start();
    expect(await link.waitOnline(20_000)).toBe(true);
    expect(host.received.filter((r) => r.message.fields.get(70) === '001')).toHaveLength(2);
  });

  it('goes offline within the echo interval (plus the echo timeout) when the host stops answering', async () => {
    // Link time is a manual clock (the TCP is real), so "within the interval" is exact, not a race.
    const clock = new ManualClock(Date.now());
    host.queueFor('0800', { type: 'approve' });
    host.defaults['0800'] = { type: 'drop' };
    startLink({ echoIntervalMs: 30_000, echoTimeoutMs: 5_000 }, clock);
    expect(await link.waitOnline(20_000)).toBe(true);
    const echoes = () => host.received.filter((r) => r.message.fields.get(70) === '301').length;

    clock.advance(29_999);
    await new Promise((r) => setTimeout(r, 200));
    expect(echoes()).toBe(0);
    clock.advance(1);
    await expect.poll(echoes, { timeout: 20_000 }).toBe(1);
    expect(link.state).toBe('online');

    const offline = nextState(link, 'offline');
    clock.advance(5_000);
    await offline;
  });

  it('reconnects after the connection is cut mid-frame; the cut request times out (to be reversed)', async () => {
    startLink({ echoIntervalMs: 60_000 });
    expect(await link.waitOnline(20_000)).toBe(true);
    host.queue({ type: 'close-mid-frame' });
    const states: LinkState[] = [];
    link.on('state', (s: LinkState) => states.push(s));
    const req = sale(900);
    await expect(link.request(req, 3000)).rejects.toBeInstanceOf(HostTimeoutError);
    expect(states).toContain('offline');
    expect(await link.waitOnline(20_000)).toBe(true);
    // The host did post it: only a reversal can take it back.
    expect(host.ledger.get('TERM0001', String(req.fields.get(11)))?.status).toBe('posted');
    expect((await link.request(sale(901), 20_000)).fields.get(39)).toBe('00');
  });
});

describe('answers that do not fit their request', () => {
  it('a 0810 with another network code signs nothing on: the link stays degraded, and the next sign-on goes through', async () => {
    host.queueFor('0800', { type: 'tamper', set: { 70: '301' } });
    const invalid: Error[] = [];
    startLink({ echoIntervalMs: 300 });
    link.on('invalid-answer', (err: Error) => invalid.push(err));
    await nextState(link, 'degraded');
    await nextState(link, 'online');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ code: 'HOST_PROTOCOL', details: { mti: '0800' } });
    expect(invalid[0]!.message).toContain('70 changed');
    expect(host.received.filter((r) => r.message.mti === '0800' && r.message.fields.get(70) === '001')).toHaveLength(2);
  });

  it('a 0210 with a changed amount fails the request with HostProtocolError, naming the field but not its value', async () => {
    startLink();
    await nextState(link, 'online');
    host.queue({ type: 'tamper', set: { 4: '000000001201' } });
    const err = await link.request(sale(1101), 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostProtocolError);
    expect((err as HostProtocolError).message).toBe('acquirer host protocol error: 0210 does not fit its 0200: 4 changed');
    expect(JSON.stringify((err as HostProtocolError).details)).not.toContain('1201');
    // The link itself is fine: the next request is answered normally.
    expect((await link.request(sale(500), 5000)).fields.get(39)).toBe('00');
  });
});
