import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { HostTimeoutError } from '../../firmware-app/host/errors.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { HostLink, type HostLinkOptions, type LinkState } from '../../firmware-app/host/link.js';
import { financialRequest } from '../../firmware-app/host/messages.js';
import { encryptCardData } from '../../sim/cards.js';
import { HostSim } from '../../sim/host/host-sim.js';
import { ManualClock } from '../support/manual-clock.js';
import { seededRandom, TcpProxy } from '../support/tcp-proxy.js';

/**
 * The real link, through an in-process relay that can go silent (every byte vanishes, both
 * sockets stay open: a half-open 4G link) or shape the link, to the real simulated host.
 */
const IDENTITY = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };
const BLOB = encryptCardData({ pan: '4111111111111111', expiry: '2812', entryMode: 'CHIP' });

let host: HostSim;
let proxy: TcpProxy;
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

async function startLink(overrides: Partial<HostLinkOptions> = {}, clock?: Clock): Promise<HostLink> {
  const port = await proxy.listen();
  link = new HostLink(
    {
      address: '127.0.0.1',
      port,
      connectTimeoutMs: 5000,
      reconnectMinMs: 100,
      reconnectMaxMs: 500,
      echoIntervalMs: 8_000,
      echoTimeoutMs: 5_000,
      probeAfterMs: 3_000,
      identity: IDENTITY,
      ...overrides,
    },
    { logger: silentLogger, nextStan, clock },
  );
  link.start();
  expect(await link.waitOnline(20_000)).toBe(true);
  return link;
}

const echoes = () => host.received.filter((r) => r.message.fields.get(70) === '301').length;
/** Lets real sockets and the host act while the manual clock stands still. */
const settle = () => new Promise((r) => setTimeout(r, 200));

beforeEach(async () => {
  host = new HostSim();
  await host.start();
  proxy = new TcpProxy({ address: '127.0.0.1', port: host.port }, seededRandom(18));
});

afterEach(async () => {
  await link?.stop();
  await proxy.close();
  await host.stop();
});

describe('host link liveness over a link that goes silent', () => {
  it('gives up on the sales sent into a silent link after probeAfterMs + echoTimeoutMs, not the response timeout', async () => {
    const clock = new ManualClock(Date.now());
    await startLink({}, clock);
    proxy.drop();
    const failures: unknown[] = [];
    const outcome = Promise.all(
      [sale(1200), sale(1201)].map((m) => link.request(m, 30_000).catch((err: unknown) => void failures.push(err))),
    );
    await settle();
    clock.advance(2_999);
    await settle();
    expect(link.state).toBe('online');
    // The probe (an echo) goes out after 3 s; unanswered 5 s later, the connection is dead.
    clock.advance(5_001);
    await outcome;
    // Every request on the dead connection fails as unanswered (to be reversed), none waits on.
    expect(failures).toHaveLength(2);
    for (const f of failures) expect(f).toBeInstanceOf(HostTimeoutError);
    expect(link.state).toBe('offline');
    expect(link.ready).toBe(false);
    expect(host.ledger.posted()).toHaveLength(0);
  });

  it('keeps the full response timeout for a live host whose issuer is slow: the echo is answered', async () => {
    await startLink({ probeAfterMs: 300, echoTimeoutMs: 1_000 });
    host.queue({ type: 'delay', ms: 2_500, then: { type: 'approve' } });
    const states: LinkState[] = [];
    link.on('state', (s: LinkState) => states.push(s));
    const answer = await link.request(sale(1300), 10_000);
    expect(answer.fields.get(39)).toBe('00');
    expect(echoes()).toBeGreaterThanOrEqual(1);
    expect(states).toEqual([]);
  });

  it('takes an idle link out of online once an echo goes unanswered, and signs on again when the link returns', async () => {
    const clock = new ManualClock(Date.now());
    await startLink({}, clock);
    proxy.drop();
    const offline = new Promise<void>((resolve) => link.on('state', (s: LinkState) => s === 'offline' && resolve()));
    clock.advance(8_000);
    await settle();
    clock.advance(5_000);
    await offline;
    proxy.restore();
    const signOns = host.received.filter((r) => r.message.fields.get(70) === '001').length;
    clock.advance(1_000);
    expect(await link.waitOnline(20_000)).toBe(true);
    expect(host.received.filter((r) => r.message.fields.get(70) === '001').length).toBe(signOns + 1);
  });

  it('refuses a financial request on a connection that has not signed on: nothing is sent', async () => {
    const clock = new ManualClock(Date.now());
    host.defaults['0800'] = { type: 'drop' };
    const port = await proxy.listen();
    link = new HostLink(
      {
        address: '127.0.0.1',
        port,
        connectTimeoutMs: 5000,
        reconnectMinMs: 100,
        reconnectMaxMs: 500,
        echoIntervalMs: 8_000,
        echoTimeoutMs: 5_000,
        probeAfterMs: 3_000,
        identity: IDENTITY,
      },
      { logger: silentLogger, nextStan, clock },
    );
    link.start();
    await expect.poll(() => link.state, { timeout: 10_000 }).toBe('degraded');
    await expect(link.request(sale(1400), 30_000)).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
    expect(host.received.filter((r) => r.message.mti === '0200')).toHaveLength(0);
  });
});
