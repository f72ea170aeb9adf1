import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { attachDeclineReporter } from '../../firmware-app/declines/reporter.js';
import { HostTimeoutError, HostUnreachableError } from '../../firmware-app/host/errors.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import type { LinkState } from '../../firmware-app/host/link.js';
import { transmissionDateTime } from '../../firmware-app/host/messages.js';
import type { PreparedRequest } from '../../firmware-app/host/prepared.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { SafForwarder, type SafSettings } from '../../firmware-app/saf/forwarder.js';
import { enqueueSaf, listSafItems } from '../../firmware-app/saf/queue.js';
import { nextStan } from '../../firmware-app/store/counters.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { outboxOf, storeOf } from '../support/store.js';
import { walCommits } from '../support/wal-commits.js';

const HOUR = 3_600_000;

/** Time moves only when the test says so; timers are recorded, fired on advance. */
class TestClock implements Clock {
  t = 1_800_000_000_000;
  timers: { at: number; fn: () => void }[] = [];
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): TimerHandle => {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return timer as unknown as TimerHandle;
  };
  clearTimeout = (h: TimerHandle): void => {
    this.timers = this.timers.filter((x) => x !== (h as unknown));
  };
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }
}

/** A field-39 code, or 'timeout' / 'unreachable'. */
type Reply = string;

/** The host as the forwarder sees it: answers each advice with the next scripted reply (default 00). */
class FakeLink extends EventEmitter {
  state: LinkState = 'online';
  get ready(): boolean {
    return this.state !== 'offline';
  }
  readonly sent: IsoMessage[] = [];
  readonly script: Reply[] = [];
  inFlight = 0;
  maxInFlight = 0;
  hold: Promise<void> | undefined;
  /** Called as each advice leaves, to look at what is durable at that moment. */
  onSend: ((msg: IsoMessage) => void) | undefined;

  packRequest(msg: IsoMessage): PreparedRequest {
    return { msg, frame: Buffer.alloc(0), key: '' };
  }

  send(prepared: PreparedRequest, timeoutMs: number): Promise<IsoMessage> {
    return this.request(prepared.msg, timeoutMs);
  }

  async request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage> {
    const reply = this.script.shift() ?? '00';
    if (reply === 'unreachable') throw new HostUnreachableError('not connected');
    this.onSend?.(msg);
    this.sent.push(msg);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.hold;
      await Promise.resolve();
      if (reply === 'timeout') throw new HostTimeoutError(msg.mti, String(msg.fields.get(11)), timeoutMs);
      return {
        mti: '0230',
        fields: new Map([
          [11, msg.fields.get(11)!],
          [37, '000000000777'],
          [39, reply],
        ]),
      };
    } finally {
      this.inFlight--;
    }
  }

  goOnline(): void {
    this.state = 'online';
    this.emit('state', 'online');
  }
}

const settings: SafSettings = {
  window: 1,
  responseTimeoutMs: 1000,
  backoffMinMs: 1000,
  backoffMaxMs: 60_000,
  maxAttempts: 3,
  maxAgeMs: 24 * HOUR,
  countAhead: 32,
  holdMs: 100,
};

let db: Db;
let journal: Journal;
let clock: TestClock;
let link: FakeLink;

function forwarder(over: Partial<SafSettings> = {}, random = () => 0.5): SafForwarder {
  return new SafForwarder({
    store: storeOf(db),
    journal,
    link,
    clock,
    random,
    logger: silentLogger,
    identity: { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' },
    settings: { ...settings, ...over },
  });
}

/** An offline approval as the payments engine commits it: state and queue row together. */
function offlineSale(amount: number): { id: number; stan: string } {
  const t = journal.create({ type: 'sale', amount, currency: 'CNY' });
  journal.transition(t.id, 'card_read', { last4: '1111', entryMode: 'CHIP', panToken: 'ab'.repeat(32) });
  return db
    .transaction(() => {
      const stan = nextStan(db);
      journal.transition(t.id, 'offline_approved', { stan, stanDay: '2027-01-15', authCode: `Y1${stan.slice(-4)}` });
      enqueueSaf(storeOf(db), { transactionId: t.id, encryptedBlob: Buffer.alloc(40, 7), expiry: '2812', now: clock.now() });
      return { id: t.id, stan };
    })
    .immediate();
}

const f = (m: IsoMessage, n: number) => m.fields.get(n);
const states = () =>
  db
    .prepare<[], { state: string }>(`SELECT state FROM transactions ORDER BY id`)
    .all()
    .map((r) => r.state);

beforeEach(() => {
  db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-saf-')), 'pos.db'));
  clock = new TestClock();
  journal = new Journal(storeOf(db), clock);
  link = new FakeLink();
});

afterEach(() => db.close());

describe('SAF forwarder', () => {
  it('forwards queued offline sales in queue order as 0220 advices, each exactly once', async () => {
    const sales = [offlineSale(100), offlineSale(200), offlineSale(300)];
    const saf = forwarder();
    expect(await saf.drain()).toEqual({ remaining: 0 });
    expect(link.sent.map((m) => [m.mti, f(m, 11), f(m, 4), f(m, 38)])).toEqual(
      sales.map((s, i) => ['0220', s.stan, String((i + 1) * 100).padStart(12, '0'), `Y1${s.stan.slice(-4)}`]),
    );
    expect(states()).toEqual(['forwarded_approved', 'forwarded_approved', 'forwarded_approved']);
    expect(journal.get(sales[0]!.id).rrn).toBe('000000000777');
    await saf.drain();
    expect(link.sent).toHaveLength(3);
  });

  it('repeats an unanswered advice as 0221 with the same STAN after a jittered backoff', async () => {
    const s = offlineSale(500);
    link.script.push('timeout');
    const saf = forwarder({}, () => 1);
    expect(await saf.drain()).toEqual({ remaining: 1 });
    const [row] = listSafItems(storeOf(db));
    expect(row).toMatchObject({ attempts: 1, sends: 1, state: 'queued' });
    expect(row!.nextAttemptAt - clock.now()).toBe(1000);
    clock.advance(999);
    await saf.drain();
    expect(link.sent).toHaveLength(1);
    clock.advance(1);
    await saf.drain();
    expect(link.sent.map((m) => [m.mti, f(m, 11)])).toEqual([
      ['0220', s.stan],
      ['0221', s.stan],
    ]);
    expect(journal.get(s.id).state).toBe('forwarded_approved');
  });

  it('an advice packed while the one before it waited for its answer names the second it leaves in field 7', async () => {
    offlineSale(100);
    offlineSale(200);
    let answer!: () => void;
    link.hold = new Promise((resolve) => (answer = resolve));
    const draining = forwarder().drain();
    const firstLeft = clock.now();
    clock.advance(2_000);
    answer();
    expect(await draining).toEqual({ remaining: 0 });
    expect(link.sent.map((m) => [m.mti, f(m, 7)])).toEqual([
      ['0220', transmissionDateTime(new Date(firstLeft))],
      ['0220', transmissionDateTime(new Date(clock.now()))],
    ]);
  });

  it('sends a 0221 first after a restart that interrupted a transmission', async () => {
    const s = offlineSale(500);
    db.prepare(`UPDATE saf_queue SET sends = 1`).run();
    await forwarder().drain();
    expect(link.sent.map((m) => [m.mti, f(m, 11)])).toEqual([['0221', s.stan]]);
  });

  it('retries 91 and 96 without counting them as attempts; timeouts count and alert at the limit', async () => {
    offlineSale(500);
    link.script.push('96', '91', '96', '96');
    const saf = forwarder({ maxAttempts: 2 });
    for (let i = 0; i < 4; i++) {
      await saf.drain();
      clock.advance(60_000 * 1.2);
    }
    expect(listSafItems(storeOf(db))[0]).toMatchObject({ attempts: 0, sends: 4, lastResponseCode: '96', state: 'queued' });
    expect(storeOf(db).alerts.open()).toEqual([]);
    link.script.push('timeout', 'timeout');
    await saf.drain();
    clock.advance(60_000 * 1.2);
    expect(storeOf(db).alerts.open()).toEqual([]);
    await saf.drain();
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => a.key),
    ).toEqual([expect.stringMatching(/^saf-stuck:/)]);
    clock.advance(60_000 * 1.2);
    await saf.drain();
    expect(listSafItems(storeOf(db))[0]).toMatchObject({ attempts: 2, sends: 7, state: 'forwarded' });
    expect(link.sent.map((m) => m.mti)).toEqual(['0220', '0221', '0221', '0221', '0221', '0221', '0221']);
  });

  it('a host decline raises a merchant alert and one upstream decline report, and stays visible', async () => {
    attachDeclineReporter(journal, outboxOf(db, clock));
    const s = offlineSale(4_200);
    link.script.push('05');
    await forwarder().drain();
    const txn = journal.get(s.id);
    expect(txn).toMatchObject({ state: 'forwarded_declined', responseCode: '05', declineCode: '05' });
    const alerts = storeOf(db).alerts.open();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ key: `saf-declined:${txn.uuid}`, severity: 'critical' });
    expect(alerts[0]!.message).toContain('CNY 42.00');
    const reports = db.prepare<[], { event_id: string; type: string; payload: string }>(`SELECT event_id, type, payload FROM outbox`).all();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ event_id: `decline:${txn.uuid}`, type: 'decline' });
    expect(JSON.parse(reports[0]!.payload)).toMatchObject({ code: '05', state: 'forwarded_declined', amount: 4_200 });
    expect(listSafItems(storeOf(db), { state: 'declined' })).toEqual([
      expect.objectContaining({ stan: s.stan, lastResponseCode: '05', last4: '1111', transactionState: 'forwarded_declined' }),
    ]);
    expect(JSON.stringify(listSafItems(storeOf(db)))).not.toContain('encryptedBlob');
  });

  it('expires a queued sale older than the maximum age, alerts, and never sends it', async () => {
    const old = offlineSale(700);
    clock.advance(24 * HOUR);
    const fresh = offlineSale(800);
    const saf = forwarder();
    link.state = 'offline';
    await saf.drain();
    expect(journal.get(old.id).state).toBe('offline_approved');
    clock.advance(1);
    await saf.drain();
    expect(journal.get(old.id).state).toBe('expired');
    expect(journal.get(fresh.id).state).toBe('offline_approved');
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => a.key),
    ).toEqual([`saf-expired:${journal.get(old.id).uuid}`]);
    link.state = 'online';
    await saf.drain();
    expect(link.sent.map((m) => f(m, 11))).toEqual([fresh.stan]);
  });

  it('drains in one commit per `countAhead` advices, each transmission durable before it leaves', async () => {
    for (let i = 1; i <= 20; i++) offlineSale(i * 10);
    const wal = join(db.name + '-wal');
    const sendsAtSend: number[] = [];
    link.onSend = (msg) => {
      // Read from a second connection: only what is committed (durable) counts.
      const other = openDatabase(db.name, { readonly: true });
      try {
        sendsAtSend.push(
          other
            .prepare<[string], { sends: number }>(
              `SELECT sends FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id WHERE t.stan = ?`,
            )
            .get(String(f(msg, 11)))!.sends,
        );
      } finally {
        other.close();
      }
    };
    const before = walCommits(wal);
    expect(await forwarder({ countAhead: 8 }).drain()).toEqual({ remaining: 0 });
    expect(sendsAtSend).toEqual(Array(20).fill(1));
    expect(link.sent.map((m) => m.mti)).toEqual(Array(20).fill('0220'));
    // Counts 1-8; then, as the 8th leaves, accepts 1-7 and counts 9-16; as the 16th leaves, accepts 8-15 and
    // counts 17-20; as the 20th leaves, accepts 16-19; the 20th's acceptance last: 5 commits, not 21.
    expect(walCommits(wal) - before).toBe(5);
    expect(states()).toEqual(Array(20).fill('forwarded_approved'));
  });

  it('commits an acceptance within `holdMs` while the next advice is still unanswered', async () => {
    offlineSale(10);
    offlineSale(20);
    const saf = forwarder({ holdMs: 100 });
    const durableStates = () => {
      const other = openDatabase(db.name, { readonly: true });
      try {
        return other
          .prepare<[], { state: string }>(`SELECT state FROM transactions ORDER BY id`)
          .all()
          .map((r) => r.state);
      } finally {
        other.close();
      }
    };
    let release!: () => void;
    link.onSend = (msg) => {
      if (f(msg, 4) === '000000000020') link.hold = new Promise((r) => (release = r));
    };
    const draining = saf.drain();
    await new Promise((r) => setTimeout(r, 10));
    expect(link.inFlight).toBe(1);
    clock.advance(100);
    expect(durableStates()).toEqual(['forwarded_approved', 'offline_approved']);
    release();
    expect(await draining).toEqual({ remaining: 0 });
    expect(durableStates()).toEqual(['forwarded_approved', 'forwarded_approved']);
  });

  it('takes back the count of advices counted ahead that never left when the link goes down', async () => {
    for (let i = 1; i <= 4; i++) offlineSale(i * 10);
    link.onSend = (msg) => {
      if (f(msg, 4) === '000000000020') link.state = 'offline';
    };
    const saf = forwarder();
    expect(await saf.drain()).toEqual({ remaining: 2 });
    expect(listSafItems(storeOf(db)).map((i) => [i.amount, i.state, i.sends])).toEqual([
      [40, 'queued', 0],
      [30, 'queued', 0],
      [20, 'forwarded', 1],
      [10, 'forwarded', 1],
    ]);
  });

  it('keeps at most `window` advices in flight', async () => {
    for (let i = 1; i <= 7; i++) offlineSale(i * 10);
    let release!: () => void;
    link.hold = new Promise((r) => (release = r));
    const draining = forwarder({ window: 3 }).drain();
    await new Promise((r) => setTimeout(r, 10));
    expect(link.inFlight).toBe(3);
    release();
    expect(await draining).toEqual({ remaining: 0 });
    expect(link.maxInFlight).toBe(3);
    expect(link.sent.map((m) => Number(f(m, 4)))).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('does nothing while offline, does not count a transmission that never left, and drains by itself when the link returns', async () => {
    const s = offlineSale(900);
    link.script.push('unreachable');
    const saf = forwarder();
    saf.start();
    await saf.drain();
    expect(listSafItems(storeOf(db))[0]).toMatchObject({ sends: 0, attempts: 0, state: 'queued' });
    link.state = 'offline';
    clock.advance(10_000);
    await saf.drain();
    expect(link.sent).toHaveLength(0);
    link.goOnline();
    for (let i = 0; i < 200 && journal.get(s.id).state !== 'forwarded_approved'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(link.sent.map((m) => [m.mti, f(m, 11)])).toEqual([['0220', s.stan]]);
    expect(journal.get(s.id).state).toBe('forwarded_approved');
    await saf.stop();
  });

  it('reports depth, oldest age and total offline amount per currency', async () => {
    const saf = forwarder();
    expect(saf.state()).toEqual({ depth: 0, oldestAgeMs: null, totalAmountByCurrency: {} });
    offlineSale(1_000);
    clock.advance(5_000);
    offlineSale(2_500);
    clock.advance(1_000);
    expect(saf.state()).toEqual({ depth: 2, oldestAgeMs: 6_000, totalAmountByCurrency: { CNY: 3_500 } });
  });
});
