import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { LineLink, type LinkState } from '../../drivers/serial/line-link.js';
import type { OverlongLine } from '../../drivers/serial/line-framer.js';
import { FakeClock, fakePortFactory } from '../support/fake-serial.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function rig(unavailable = false) {
  const ports = fakePortFactory();
  ports.unavailable = unavailable;
  const clock = new FakeClock();
  const link = new LineLink(
    { path: '/dev/ttyUSB0', baudRate: 115200, maxLineLength: 16, reconnectMinMs: 100, reconnectMaxMs: 400 },
    { logger: silentLogger, clock, portFactory: ports.factory },
  );
  const states: LinkState[] = [];
  const lost: string[] = [];
  link.on('state', (s: LinkState) => states.push(s));
  link.on('lost', (r: string) => lost.push(r));
  /** Moves the clock and lets the reopen attempts it triggers finish; returns opens so far. */
  const after = async (ms: number) => {
    clock.advance(ms);
    await turn();
    return ports.opens;
  };
  return { ports, clock, link, states, lost, after };
}

describe('LineLink', () => {
  it('delivers bounded lines and reports overlong ones without their content', async () => {
    const { ports, link } = rig();
    const lines: string[] = [];
    const overlong: OverlongLine[] = [];
    link.on('line', (l: string) => lines.push(l));
    link.on('overlong', (o: OverlongLine) => overlong.push(o));
    expect(await link.connect()).toBe(true);
    ports.current.feed('$1,INFO*13\r\n' + 'x'.repeat(40) + '\r\n$2,BEEP\n');
    await turn();
    expect(lines).toEqual(['$1,INFO*13', '$2,BEEP']);
    expect(overlong).toEqual([{ length: 40 }]);
    expect(link.stats).toMatchObject({ lines: 2, overlong: 1, pendingBytes: 0 });
  });

  it('keeps trying to open a missing path with doubling backoff, capped, and opens when it appears', async () => {
    const { ports, link, states, after } = rig(true);
    expect(await link.connect()).toBe(false);
    expect(ports.opens).toBe(1);
    expect(await after(99)).toBe(1);
    expect(await after(1)).toBe(2);
    expect(await after(200)).toBe(3);
    expect(await after(399)).toBe(3);
    expect(await after(1)).toBe(4);
    expect(await after(400)).toBe(5);
    ports.unavailable = false;
    expect(await after(400)).toBe(6);
    expect(link.state).toBe('connected');
    expect(states.at(-1)).toBe('connected');
  });

  it('treats a failing write as an unplug: lost, disconnected, then reopened', async () => {
    const { ports, link, states, lost, after } = rig();
    await link.connect();
    ports.current.failWrites = true;
    link.write('$1,STATUS*0A\r\n');
    await turn();
    expect(lost).toEqual(['write failed: EIO: i/o error, write']);
    expect(link.state).toBe('disconnected');
    expect(await after(100)).toBe(2);
    expect(states).toEqual(['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
  });

  it('treats a port error or close as lost, once', async () => {
    const { ports, link, lost } = rig();
    await link.connect();
    ports.current.emit('close');
    ports.current.emit('error', new Error('late'));
    expect(lost).toEqual(['port closed']);
  });

  it('reconnects after lose() from the starting delay once the peer proved alive', async () => {
    const { link, lost, after } = rig();
    await link.connect();
    link.lose('health probe failed');
    expect(lost).toEqual(['health probe failed']);
    expect(await after(100)).toBe(2);
    link.lose('again');
    expect(await after(100)).toBe(2);
    expect(await after(100)).toBe(3);
    link.markAlive();
    link.lose('and again');
    expect(await after(100)).toBe(4);
  });

  it('stops reconnecting once closed', async () => {
    const { ports, link, after } = rig(true);
    await link.connect();
    await link.close();
    expect(await after(10_000)).toBe(1);
    expect(ports.links).toHaveLength(0);
  });
});
