import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { openDatabase } from '../../firmware-app/store/db.js';
import type { TmsBatch } from '../../firmware-app/upstream/events.js';
import { OutboxFlusher, type FlusherSettings, type HttpAnswer, type HttpPost } from '../../firmware-app/upstream/flusher.js';
import { enqueueEvent, outboxDepth } from '../../firmware-app/upstream/outbox.js';
import { ManualClock } from '../support/manual-clock.js';
import { storeOf } from '../support/store.js';

const SETTINGS: FlusherSettings = {
  url: 'http://tms.test/v1/events',
  terminalId: 'TERM0001',
  batchSize: 2,
  requestTimeoutMs: 5000,
  retryMinMs: 1000,
  retryMaxMs: 8000,
  pollMs: 60_000,
};

/** A TMS stand-in answering from a script; it records every batch it was sent. */
function fakeTms(answers: (HttpAnswer | Error)[] = []) {
  const batches: TmsBatch[] = [];
  const post: HttpPost = async (_url, body) => {
    batches.push(JSON.parse(body) as TmsBatch);
    const next = answers.shift() ?? { status: 200, body: '{}' };
    if (next instanceof Error) throw next;
    return next;
  };
  return { batches, post };
}

function setup(answers: (HttpAnswer | Error)[] = [], random = () => 0.5) {
  const file = join(mkdtempSync(join(tmpdir(), 'pos-outbox-')), 'pos.db');
  const db = openDatabase(file);
  const clock = new ManualClock();
  const tms = fakeTms(answers);
  const flusher = new OutboxFlusher(storeOf(db), SETTINGS, { clock, logger: silentLogger, random, post: tms.post });
  return { file, db, clock, tms, flusher };
}

const refused = () => new Error('connect ECONNREFUSED');
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('the outbox flusher', () => {
  it('posts the oldest events in batches with the documented envelope and marks them delivered', async () => {
    const { db, clock, tms, flusher } = setup();
    for (let i = 1; i <= 5; i++) {
      enqueueEvent(storeOf(db), clock, { eventId: `decline:t${i}`, type: 'decline', payload: { code: '05', n: i } });
      clock.advance(10);
    }
    expect(await flusher.flushOnce()).toEqual({ attempted: 2, delivered: 2 });
    expect(tms.batches[0]).toEqual({
      terminalId: 'TERM0001',
      sentAt: clock.now(),
      events: [
        { eventId: 'decline:t1', type: 'decline', terminalId: 'TERM0001', occurredAt: clock.now() - 50, payload: { code: '05', n: 1 } },
        { eventId: 'decline:t2', type: 'decline', terminalId: 'TERM0001', occurredAt: clock.now() - 40, payload: { code: '05', n: 2 } },
      ],
    });
    await flusher.flushOnce();
    await flusher.flushOnce();
    expect(await flusher.flushOnce()).toEqual({ attempted: 0, delivered: 0 });
    expect(tms.batches.map((b) => b.events.map((e) => e.eventId))).toEqual([
      ['decline:t1', 'decline:t2'],
      ['decline:t3', 'decline:t4'],
      ['decline:t5'],
    ]);
    expect(outboxDepth(storeOf(db)).pending).toBe(0);
  });

  it('keeps a failed batch, backs off exponentially with jitter on the injected clock, and delivers when the TMS is back', async () => {
    const { db, clock, tms, flusher } = setup([refused(), { status: 500, body: '' }, { status: 503, body: '' }], () => 0.25);
    enqueueEvent(storeOf(db), clock, { eventId: 'e1', type: 'decline', payload: {} });
    const first = await flusher.flushOnce();
    expect(first).toMatchObject({ attempted: 1, delivered: 0, error: 'TMS not reached: connect ECONNREFUSED' });
    // attempt 1: 1000 ms -> 500 fixed + 0.25 * 500
    expect(first.retryAt! - clock.now()).toBe(625);
    expect(await flusher.flushOnce()).toEqual({ attempted: 0, delivered: 0 });
    clock.advance(625);
    const second = await flusher.flushOnce();
    expect(second).toMatchObject({ delivered: 0, error: 'TMS answered HTTP 500' });
    expect(second.retryAt! - clock.now()).toBe(1250);
    clock.advance(1250);
    expect((await flusher.flushOnce()).retryAt! - clock.now()).toBe(2500);
    clock.advance(2500);
    expect(await flusher.flushOnce()).toEqual({ attempted: 1, delivered: 1 });
    expect(tms.batches).toHaveLength(4);
    const row = db
      .prepare<[], { attempts: number; delivered_at: number; last_error: string | null }>(
        `SELECT attempts, delivered_at, last_error FROM outbox`,
      )
      .get()!;
    expect(row).toEqual({ attempts: 4, delivered_at: clock.now(), last_error: null });
  });

  it('resumes after a restart: undelivered events survive in SQLite and go out in their original order', async () => {
    const first = setup([refused()]);
    enqueueEvent(storeOf(first.db), first.clock, { eventId: 'a', type: 'decline', payload: {} });
    enqueueEvent(storeOf(first.db), first.clock, { eventId: 'b', type: 'decline', payload: {} });
    await first.flusher.flushOnce();
    first.db.close();

    const db = openDatabase(first.file);
    const clock = new ManualClock(first.clock.now() + 10_000);
    const tms = fakeTms();
    const again = new OutboxFlusher(storeOf(db), SETTINGS, { clock, logger: silentLogger, post: tms.post });
    expect(await again.flushOnce()).toEqual({ attempted: 2, delivered: 2 });
    expect(tms.batches[0]!.events.map((e) => e.eventId)).toEqual(['a', 'b']);
  });

  it('sends a batch once when the flush job and the loop ask at the same moment', async () => {
    const { db, clock, tms, flusher } = setup();
    enqueueEvent(storeOf(db), clock, { eventId: 'once', type: 'decline', payload: {} });
    const [a, b] = await Promise.all([flusher.flushOnce(), flusher.flushOnce()]);
    expect(a).toEqual({ attempted: 1, delivered: 1 });
    expect(b).toBe(a);
    expect(tms.batches).toHaveLength(1);
  });

  it('abandons a POST in flight on stop without counting it against the TMS, and starts again', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-outbox-')), 'pos.db');
    const db = openDatabase(file);
    const clock = new ManualClock();
    let posts = 0;
    const hanging: HttpPost = (_url, _body, _timeout, _clock, signal) => {
      posts++;
      return posts === 1
        ? new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))
        : Promise.resolve({ status: 200, body: '{}' });
    };
    const flusher = new OutboxFlusher(storeOf(db), SETTINGS, { clock, logger: silentLogger, post: hanging });
    enqueueEvent(storeOf(db), clock, { eventId: 'inflight', type: 'decline', payload: {} });
    flusher.start();
    clock.advance(0);
    await settle();
    expect(posts).toBe(1);
    await flusher.stop();
    expect(db.prepare(`SELECT attempts, next_attempt_at AS due FROM outbox`).get()).toEqual({ attempts: 0, due: clock.now() });
    flusher.start();
    clock.advance(0);
    await settle();
    expect(outboxDepth(storeOf(db)).pending).toBe(0);
    await flusher.stop();
  });

  it('runs by itself once started: delivers on a kick, waits out the backoff, and stops cleanly', async () => {
    const { db, clock, tms, flusher } = setup([refused()], () => 1);
    flusher.start();
    clock.advance(0);
    await settle();
    expect(tms.batches).toHaveLength(0);
    enqueueEvent(storeOf(db), clock, { eventId: 'k1', type: 'decline', payload: {} });
    flusher.kick();
    clock.advance(0);
    await settle();
    expect(tms.batches).toHaveLength(1);
    expect(clock.pending[0]).toBe(1000);
    clock.advance(999);
    await settle();
    expect(tms.batches).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(tms.batches).toHaveLength(2);
    expect(outboxDepth(storeOf(db)).pending).toBe(0);
    expect(clock.pending).toEqual([SETTINGS.pollMs]);
    await flusher.stop();
    expect(clock.pending).toEqual([]);
  });
});
