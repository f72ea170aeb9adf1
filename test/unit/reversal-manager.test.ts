import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { HostTimeoutError, HostUnreachableError } from '../../firmware-app/host/errors.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import type { HostLink } from '../../firmware-app/host/link.js';
import { localDay, transmissionDateTime } from '../../firmware-app/host/messages.js';
import { Journal, type Transaction } from '../../firmware-app/payments/journal.js';
import { backoffDelay } from '../../firmware-app/core/backoff.js';
import { ReversalManager, reversalAlertKey } from '../../firmware-app/reversals/manager.js';
import { nextStan } from '../../firmware-app/store/counters.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { ManualClock } from '../support/manual-clock.js';
import { storeOf } from '../support/store.js';

type Reply = { kind: 'answer'; code: string } | { kind: 'timeout' } | { kind: 'unreachable' } | { kind: 'hang' };

/** Stands in for the TCP link: records each request and answers as the test scripted. */
class ScriptedLink extends EventEmitter {
  state = 'online';
  get ready(): boolean {
    return this.state !== 'offline';
  }
  readonly sent: IsoMessage[] = [];
  readonly replies: Reply[] = [];
  fallback: Reply = { kind: 'timeout' };

  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage> {
    const reply = this.replies.shift() ?? this.fallback;
    if (reply.kind === 'unreachable') return Promise.reject(new HostUnreachableError('not connected'));
    this.sent.push(msg);
    // The process dies with the message on the wire: no answer, no timeout, ever.
    if (reply.kind === 'hang') return new Promise(() => undefined);
    if (reply.kind === 'timeout') return Promise.reject(new HostTimeoutError(msg.mti, String(msg.fields.get(11)), timeoutMs));
    return Promise.resolve({
      mti: '0410',
      fields: new Map([
        [11, msg.fields.get(11)!],
        [39, reply.code],
        [41, 'TERM0001'],
      ]),
    });
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const SETTINGS = {
  identity: { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' },
  timeoutMs: 5000,
  backoffMinMs: 1000,
  backoffMaxMs: 8000,
  alertAfter: 3,
};

function setup(opts: { logger?: Logger; db?: Db; clock?: ManualClock } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const db = opts.db ?? openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-rev-')), 'pos.db'));
  const journal = new Journal(storeOf(db), clock);
  const link = new ScriptedLink();
  const manager = new ReversalManager({
    store: storeOf(db),
    journal,
    link: link as unknown as HostLink,
    clock,
    logger: opts.logger ?? silentLogger,
    random: () => 0.5,
    settings: SETTINGS,
  });
  return { clock, db, journal, link, manager };
}

/** A sale that reached the host (online_sent) and then got no answer. */
function timedOutSale(db: Db, journal: Journal, clock: ManualClock, amount = 1234): Transaction {
  const txn = journal.create({ type: 'sale', amount, currency: 'CNY' });
  journal.transition(txn.id, 'card_read', { last4: '1111' });
  const at = new Date(clock.now());
  const sent = db
    .transaction(() =>
      journal.transition(txn.id, 'online_sent', { stan: nextStan(db), stanDay: localDay(at), transmittedAt: transmissionDateTime(at) }),
    )
    .immediate();
  return journal.transition(sent.id, 'reversal_pending', { declineCode: 'HOST_TIMEOUT' }, { reason: 'HOST_TIMEOUT' });
}

describe('reversal manager', () => {
  it('writes the reversal, with its own STAN, in the same SQLite transaction as reversal_pending', () => {
    const { db, journal, clock, manager } = setup();
    const txn = timedOutSale(db, journal, clock);
    const row = manager.forTransaction(txn.id);
    expect(row).toMatchObject({ state: 'pending', attempts: 0, transmissions: 0, reason: 'HOST_TIMEOUT' });
    expect(row!.stan).not.toBe(txn.stan);

    // If anything in that transaction fails, neither the state change nor the reversal row survives.
    journal.onTransition(({ to }) => {
      if (to === 'reversal_pending') throw new Error('disk full');
    });
    const other = journal.create({ type: 'sale', amount: 500, currency: 'CNY' });
    journal.transition(other.id, 'card_read');
    journal.transition(other.id, 'online_sent', { stan: nextStan(db) });
    expect(() => journal.transition(other.id, 'reversal_pending')).toThrow('disk full');
    expect(journal.get(other.id).state).toBe('online_sent');
    expect(manager.forTransaction(other.id)).toBeUndefined();
  });

  it('sends a 0400, then 0401 repeats with the same STAN and field 90, backing off exponentially up to the cap', async () => {
    const { db, journal, clock, link, manager } = setup();
    const txn = timedOutSale(db, journal, clock);
    manager.start();
    await flush();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      delays.push(clock.pending[0]!);
      clock.advance(clock.pending[0]!);
      await flush();
    }
    expect(link.sent.map((m) => m.mti)).toEqual(['0400', '0401', '0401', '0401', '0401', '0401']);
    const stan = manager.forTransaction(txn.id)!.stan;
    for (const m of link.sent) {
      expect(m.fields.get(11)).toBe(stan);
      expect(m.fields.get(90)).toBe(`0200${txn.stan}${txn.transmittedAt}${'0'.repeat(22)}`);
      expect(m.fields.get(4)).toBe('000000001234');
      expect(m.fields.get(3)).toBe('000000');
    }
    // random() = 0.5 puts each delay at three quarters of 1 s, 2 s, 4 s, 8 s, 8 s (capped).
    expect(delays).toEqual([750, 1500, 3000, 6000, 6000]);
    expect(journal.get(txn.id).state).toBe('reversal_pending');
    await manager.stop();
  });

  it('raises one alert after N attempts, keeps going, and the 0410 clears it and reverses the payment', async () => {
    const { db, journal, clock, link, manager } = setup();
    const txn = timedOutSale(db, journal, clock);
    link.replies.push(
      { kind: 'timeout' },
      { kind: 'answer', code: '96' },
      { kind: 'timeout' },
      { kind: 'timeout' },
      { kind: 'answer', code: '00' },
    );
    manager.start();
    await flush();
    for (let i = 0; i < 2; i++) {
      clock.advance(clock.pending[0]!);
      await flush();
    }
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => a.key),
    ).toEqual([reversalAlertKey(txn.id)]);
    clock.advance(clock.pending[0]!);
    await flush();
    expect(storeOf(db).alerts.open()).toHaveLength(1);
    clock.advance(clock.pending[0]!);
    await flush();
    expect(link.sent).toHaveLength(5);
    expect(journal.get(txn.id).state).toBe('reversed');
    expect(manager.forTransaction(txn.id)).toMatchObject({ state: 'acknowledged', attempts: 5, transmissions: 5 });
    expect(storeOf(db).alerts.open()).toEqual([]);
    expect(manager.pendingCount()).toBe(0);
    expect(clock.pending).toEqual([]);
    expect(journal.events(txn.id).map((e) => e.toState)).toEqual(['created', 'card_read', 'online_sent', 'reversal_pending', 'reversed']);
    await manager.stop();
  });

  it('does not count an unsent try as a transmission: the first message to leave is still a 0400', async () => {
    const { db, journal, clock, link, manager } = setup();
    const txn = timedOutSale(db, journal, clock);
    link.replies.push({ kind: 'unreachable' }, { kind: 'unreachable' }, { kind: 'answer', code: '00' });
    manager.start();
    await flush();
    clock.advance(clock.pending[0]!);
    await flush();
    expect(link.sent).toEqual([]);
    expect(manager.forTransaction(txn.id)).toMatchObject({ attempts: 2, transmissions: 0, lastError: 'host unreachable' });
    clock.advance(clock.pending[0]!);
    await flush();
    expect(link.sent.map((m) => m.mti)).toEqual(['0400']);
    expect(journal.get(txn.id).state).toBe('reversed');
    await manager.stop();
  });

  it('a crash with the 0400 on the wire: its send was committed first, so the repeat after the restart is a 0401', async () => {
    const first = setup();
    const txn = timedOutSale(first.db, first.journal, first.clock);
    first.link.replies.push({ kind: 'hang' });
    first.manager.start();
    await flush();
    expect(first.link.sent.map((m) => m.mti)).toEqual(['0400']);
    expect(first.manager.forTransaction(txn.id)).toMatchObject({ state: 'pending', transmissions: 1 });

    // A new process on the same database: the host may hold the first 0400, so this one is a repeat.
    const second = setup({ db: first.db, clock: first.clock });
    second.link.replies.push({ kind: 'answer', code: '00' });
    second.manager.start();
    await flush();
    expect(second.link.sent.map((m) => m.mti)).toEqual(['0401']);
    expect(second.journal.get(txn.id).state).toBe('reversed');
    expect(second.manager.forTransaction(txn.id)).toMatchObject({ state: 'acknowledged', transmissions: 2 });
    await second.manager.stop();
  });

  it('goes out again right away when the link comes back online', async () => {
    const { db, journal, clock, link, manager } = setup();
    const txn = timedOutSale(db, journal, clock);
    link.replies.push({ kind: 'unreachable' }, { kind: 'answer', code: '00' });
    manager.start();
    await flush();
    expect(journal.get(txn.id).state).toBe('reversal_pending');
    link.emit('state', 'online');
    await flush();
    expect(journal.get(txn.id).state).toBe('reversed');
    await manager.stop();
  });

  it('resumes after a restart from the durable row, and drain() reports what is left', async () => {
    const first = setup();
    const a = timedOutSale(first.db, first.journal, first.clock, 100);
    const b = timedOutSale(first.db, first.journal, first.clock, 200);
    // Power lost before anything was sent: a new process opens the same database.
    first.clock.advance(60_000);
    const second = setup({ db: first.db, clock: first.clock });
    expect(second.manager.pendingCount()).toBe(2);
    expect(second.manager.oldestPendingAgeMs()).toBe(60_000);
    second.link.replies.push({ kind: 'answer', code: '00' }, { kind: 'timeout' });
    const result = await second.manager.drain();
    expect(result).toEqual({ remaining: 1 });
    expect(second.journal.get(a.id).state).toBe('reversed');
    expect(second.journal.get(b.id).state).toBe('reversal_pending');
    second.link.replies.push({ kind: 'answer', code: '00' });
    expect(await second.manager.drain()).toEqual({ remaining: 0 });
    expect(second.manager.oldestPendingAgeMs()).toBe(0);
  });

  it('logs a late 0210 for a transaction being reversed and leaves the reversal to go out', async () => {
    const warnings: unknown[] = [];
    const logger: Logger = { ...silentLogger, child: () => logger, warn: (obj: object | string) => void warnings.push(obj) };
    const { db, journal, clock, link, manager } = setup({ logger });
    const txn = timedOutSale(db, journal, clock);
    link.fallback = { kind: 'unreachable' };
    manager.start();
    await flush();
    link.emit('unmatched', {
      mti: '0210',
      fields: new Map([
        [11, txn.stan!],
        [39, '00'],
        [41, 'TERM0001'],
      ]),
    });
    expect(warnings).toContainEqual(expect.objectContaining({ txn: txn.id, responseCode: '00' }));
    expect(journal.get(txn.id).state).toBe('reversal_pending');
    expect(manager.pendingCount()).toBe(1);
    await manager.stop();
  });
});

describe('backoffDelay', () => {
  it('doubles from the minimum, stops at the cap, and jitters within the upper half', () => {
    expect([1, 2, 3, 4, 5, 40].map((n) => backoffDelay(n, 1000, 8000, () => 1))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, 1000, 8000, () => 0))).toEqual([500, 1000, 2000]);
  });
});
