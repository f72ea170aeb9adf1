import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { OutboxFlusher, type FlusherSettings } from '../../firmware-app/upstream/flusher.js';
import { enqueueEvent, outboxDepth } from '../../firmware-app/upstream/outbox.js';
import { applyTmsOptions, TmsFlagError } from '../../sim/tms/cli-options.js';
import { TmsSim } from '../../sim/tms/tms-sim.js';
import { storeOf } from '../support/store.js';

/** Real timers for the HTTP request timeout; "now" (and so the backoff schedule) moves only when the test says. */
function steppedClock() {
  let now = 1_800_000_000_000;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
  return { clock, advance: (ms: number) => (now += ms) };
}

describe('outbox to the TMS simulator over real HTTP', () => {
  let tms: TmsSim;
  let db: Db;
  const opened: Db[] = [];

  afterEach(async () => {
    for (const d of opened) if (d.open) d.close();
    await tms.stop();
  });

  async function setup(overrides: Partial<FlusherSettings> = {}) {
    tms = new TmsSim();
    await tms.start();
    const file = join(mkdtempSync(join(tmpdir(), 'pos-tms-')), 'pos.db');
    db = openDatabase(file);
    opened.push(db);
    const time = steppedClock();
    const settings: FlusherSettings = {
      url: tms.url,
      terminalId: 'TERM0001',
      batchSize: 10,
      requestTimeoutMs: 5000,
      retryMinMs: 1000,
      retryMaxMs: 4000,
      pollMs: 60_000,
      ...overrides,
    };
    const make = (d: Db) => new OutboxFlusher(storeOf(d), settings, { clock: time.clock, logger: silentLogger, random: () => 1 });
    return { file, time, flusher: make(db), make };
  }

  it('survives an outage, 500s and a restart: every event ends at the TMS exactly once', async () => {
    const { file, time, flusher, make } = await setup();
    for (const n of [1, 2, 3]) enqueueEvent(storeOf(db), time.clock, { eventId: `decline:${n}`, type: 'decline', payload: { code: '05' } });
    expect(await flusher.flushOnce()).toEqual({ attempted: 3, delivered: 3 });
    expect([...tms.events.keys()]).toEqual(['decline:1', 'decline:2', 'decline:3']);

    await tms.stop();
    enqueueEvent(storeOf(db), time.clock, { eventId: 'decline:4', type: 'decline', payload: { code: '51' } });
    const down = await flusher.flushOnce();
    expect(down).toMatchObject({ attempted: 1, delivered: 0 });
    expect(down.error).toMatch(/^TMS not reached: /);

    await tms.start();
    tms.failNext(1, 500);
    time.advance(1000);
    expect(await flusher.flushOnce()).toMatchObject({ delivered: 0, error: 'TMS answered HTTP 500' });

    // The terminal restarts with decline:4 still pending.
    db.close();
    db = openDatabase(file);
    opened.push(db);
    enqueueEvent(storeOf(db), time.clock, { eventId: 'decline:5', type: 'decline', payload: { code: '54' } });
    const restarted = make(db);
    time.advance(2000);
    expect(await restarted.flushOnce()).toEqual({ attempted: 2, delivered: 2 });
    expect(outboxDepth(storeOf(db)).pending).toBe(0);
    expect([...tms.events.keys()]).toEqual(['decline:1', 'decline:2', 'decline:3', 'decline:4', 'decline:5']);
    expect([...tms.events.values()].every((e) => e.received === 1 && e.terminalId === 'TERM0001')).toBe(true);
    expect(tms.deliveries.map((d) => d.status)).toEqual([200, 500, 200]);
  });

  it('sends an event queued by any part of the terminal at once, not at the next poll', async () => {
    // An hour between polls: only the queue waking on the enqueue itself can deliver it while the test runs.
    const { time, flusher } = await setup({ pollMs: 3_600_000 });
    flusher.start();
    // The first pass at start-up finds the outbox empty and goes to sleep until the next poll.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const arrived = new Promise<string>((resolve) => tms.once('event', (e: { eventId: string }) => resolve(e.eventId)));
    // A heartbeat or a settlement result is written straight to the outbox, with no hook of its own to the flusher.
    enqueueEvent(storeOf(db), time.clock, { eventId: 'heartbeat:1', type: 'heartbeat', payload: {} });
    expect(await arrived).toBe('heartbeat:1');
    // Sharing the pass in flight: it returns once that delivery is committed.
    await flusher.flushOnce();
    expect(outboxDepth(storeOf(db)).pending).toBe(0);
    await flusher.stop();
  });

  it('counts a repeat once when the answer to a stored batch was lost (slow TMS, client timeout)', async () => {
    const { time, flusher } = await setup({ requestTimeoutMs: 300 });
    enqueueEvent(storeOf(db), time.clock, { eventId: 'decline:slow', type: 'decline', payload: { code: '91' } });
    tms.behaviour = { type: 'slow', ms: 3000 };
    const lost = await flusher.flushOnce();
    expect(lost.delivered).toBe(0);
    expect(tms.events.get('decline:slow')?.received).toBe(1);

    tms.behaviour = { type: 'ok' };
    time.advance(1000);
    expect(await flusher.flushOnce()).toEqual({ attempted: 1, delivered: 1 });
    expect(tms.events.size).toBe(1);
    expect(tms.events.get('decline:slow')?.received).toBe(2);
  });

  it('is scripted from the npm run sim flags: HTTP errors, then down', async () => {
    await setup();
    await expect(applyTmsOptions(tms, { 'tms-error': 'soon' })).rejects.toThrow(TmsFlagError);
    await applyTmsOptions(tms, { 'tms-error': '503' });
    const batch = { events: [{ eventId: 'x', type: 'heartbeat', terminalId: 'T', occurredAt: 1, payload: {} }] };
    expect((await fetch(tms.url, { method: 'POST', body: JSON.stringify(batch) })).status).toBe(503);
    expect(tms.events.size).toBe(0);
    await applyTmsOptions(tms, { 'tms-down': true });
    await expect(fetch(tms.url)).rejects.toThrow();
  });

  it('lists what it stored over HTTP and refuses a malformed batch whole', async () => {
    await setup();
    const bad = await fetch(tms.url, {
      method: 'POST',
      body: JSON.stringify({ events: [{ eventId: 'x', type: 'decline', terminalId: 'T', occurredAt: 1, payload: {} }, { eventId: 'y' }] }),
    });
    expect(bad.status).toBe(400);
    const listed = (await (await fetch(tms.url)).json()) as { events: unknown[] };
    expect(listed.events).toEqual([]);
  });
});
