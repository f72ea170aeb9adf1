import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { HostLink } from '../../firmware-app/host/link.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { SafForwarder } from '../../firmware-app/saf/forwarder.js';
import { enqueueSaf, listSafItems } from '../../firmware-app/saf/queue.js';
import { nextStan } from '../../firmware-app/store/counters.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { encryptCardData, TEST_CARDS } from '../../sim/cards.js';
import { HostSim } from '../../sim/host/host-sim.js';
import { storeOf } from '../support/store.js';

/**
 * The forwarder against the simulated acquirer over real TCP, with a real SQLite file:
 * temporary host failures, a host that goes away and comes back, and the repeat rules.
 */
const identity = { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' };

let db: Db;
let journal: Journal;
let host: HostSim;
let link: HostLink;
let saf: SafForwarder;

function offlineSale(amount: number, cardName = 'visa-chip'): string {
  const card = TEST_CARDS.find((c) => c.name === cardName)!;
  const t = journal.create({ type: 'sale', amount, currency: 'CNY' });
  journal.transition(t.id, 'card_read', { last4: card.pan.slice(-4), entryMode: card.entryMode });
  return db
    .transaction(() => {
      const stan = nextStan(db);
      journal.transition(t.id, 'offline_approved', { stan, stanDay: '2027-01-15', authCode: `Y1${stan.slice(-4)}` });
      enqueueSaf(storeOf(db), {
        transactionId: t.id,
        encryptedBlob: encryptCardData({ pan: card.pan, expiry: card.expiry, entryMode: card.entryMode }),
        expiry: card.expiry,
        now: Date.now(),
      });
      return stan;
    })
    .immediate();
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const queued = () => listSafItems(storeOf(db), { state: 'queued' }).length;
const advices = () => host.received.map((r) => r.message).filter((m) => m.mti === '0220' || m.mti === '0221');

type ForwarderSettings = ConstructorParameters<typeof SafForwarder>[0]['settings'];

/** The terminal's link to the simulated host, on the current database's STAN counter. */
function newLink(): HostLink {
  return new HostLink(
    {
      address: '127.0.0.1',
      port: host.port,
      connectTimeoutMs: 5_000,
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      echoIntervalMs: 60_000,
      echoTimeoutMs: 5_000,
      probeAfterMs: 3_000,
      identity,
    },
    { logger: silentLogger, nextStan: () => nextStan(db) },
  );
}

/** A forwarder on the current database and link; `settings` changes the defaults a test cares about. */
function newForwarder(settings: Partial<ForwarderSettings> = {}): SafForwarder {
  return new SafForwarder({
    store: storeOf(db),
    journal,
    link,
    clock: systemClock,
    logger: silentLogger,
    identity,
    settings: {
      window: 1,
      responseTimeoutMs: 5_000,
      backoffMinMs: 50,
      backoffMaxMs: 100,
      maxAttempts: 3,
      maxAgeMs: 86_400_000,
      countAhead: 32,
      holdMs: 100,
      ...settings,
    },
  });
}

beforeEach(async () => {
  db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-saf-int-')), 'pos.db'));
  journal = new Journal(storeOf(db), systemClock);
  host = new HostSim();
  await host.start();
  link = newLink();
  saf = newForwarder({ window: 2, backoffMinMs: 100, backoffMaxMs: 400 });
});

afterEach(async () => {
  await saf.stop();
  await link.stop();
  await host.stop();
  db.close();
});

describe('SAF forwarder against the simulated host', () => {
  it('repeats an advice the host answered 96 as a 0221 with the same STAN, without counting an attempt, and posts it once', async () => {
    const stan = offlineSale(1_200);
    host.queueFor('0220', { type: 'decline', code: '96' });
    link.start();
    saf.start();
    await until('the advice to be accepted', () => queued() === 0);
    expect(advices().map((m) => [m.mti, m.fields.get(11)])).toEqual([
      ['0220', stan],
      ['0221', stan],
    ]);
    expect(listSafItems(storeOf(db))[0]).toMatchObject({ state: 'forwarded', attempts: 0, sends: 2, lastResponseCode: '00' });
    expect(host.ledger.all().filter((e) => e.stan === stan)).toEqual([
      expect.objectContaining({ status: 'posted', amount: 1_200, receivedCount: 1 }),
    ]);
  });

  it('waits out a host outage and drains by itself when the host comes back', async () => {
    link.start();
    saf.start();
    await until('the link to come up', () => link.state === 'online');
    await host.stop();
    await until('the link to notice', () => link.state === 'offline');
    const stans = [offlineSale(100), offlineSale(200), offlineSale(300, 'visa-expired')];
    expect(await saf.drain()).toEqual({ remaining: 3 });
    await host.start();
    await until('the queue to drain', () => queued() === 0);
    expect(advices().map((m) => m.fields.get(11))).toEqual(stans);
    expect(host.ledger.all().map((e) => [e.stan, e.status, e.responseCode])).toEqual([
      [stans[0], 'posted', '00'],
      [stans[1], 'posted', '00'],
      [stans[2], 'declined', '54'],
    ]);
    expect(listSafItems(storeOf(db), { state: 'declined' }).map((i) => i.stan)).toEqual([stans[2]]);
  });

  it('an advice whose answer was lost is repeated and still posted once', async () => {
    const stan = offlineSale(900);
    host.queueFor('0220', { type: 'drop' });
    link.start();
    await until('the link to come up', () => link.state === 'online');
    const forwarder = newForwarder({ responseTimeoutMs: 1_000 });
    forwarder.start();
    await until('the advice to be accepted', () => queued() === 0);
    await forwarder.stop();
    const sent = advices().map((m) => [m.mti, m.fields.get(11)]);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent).toEqual([['0220', stan], ...sent.slice(1).map(() => ['0221', stan])]);
    expect(host.ledger.get('TERM0001', stan)).toMatchObject({ status: 'posted', receivedCount: sent.length });
    expect(host.ledger.totals()).toEqual({ count: 1, amount: 900 });
  });

  it('after a crash in a counted-ahead run, every counted advice goes as a 0221 and the host posts each exactly once', async () => {
    const stans = [100, 200, 300, 400, 500, 600].map((amount) => offlineSale(amount));
    // Holds its acceptances past the crash: the first two are answered but not yet committed when it dies.
    const crashing = newForwarder({ holdMs: 5_000 });
    // The third advice is posted, its answer lost, and the terminal dies as it arrives: nothing it does after that is durable.
    host.queueFor('0220', { type: 'approve' }, { type: 'approve' }, { type: 'drop' });
    const file = db.name;
    const dying = db;
    host.onRequest((m) => {
      if (m.fields.get(11) === stans[2] && dying.open) dying.close();
    });
    link.start();
    crashing.start();
    await until('the third advice to reach the host', () => !dying.open);
    await crashing.stop(0);
    await link.stop();

    db = openDatabase(file);
    journal = new Journal(storeOf(db), systemClock);
    link = newLink();
    saf = newForwarder();
    link.start();
    saf.start();
    await until('the queue to drain after the restart', () => queued() === 0);

    const mtis = (stan: string) =>
      advices()
        .filter((m) => m.fields.get(11) === stan)
        .map((m) => m.mti);
    // Answered before the crash but not yet recorded, or in flight: sent again as repeats.
    for (const stan of stans.slice(0, 3)) expect(mtis(stan)).toEqual(['0220', '0221']);
    // Counted ahead, never sent before the crash: their first transmission is a repeat.
    for (const stan of stans.slice(3)) expect(mtis(stan)).toEqual(['0221']);
    expect(host.ledger.all().map((e) => [e.stan, e.status, e.receivedCount])).toEqual(
      stans.map((stan, i) => [stan, 'posted', i < 3 ? 2 : 1]),
    );
    expect(host.ledger.totals()).toEqual({ count: 6, amount: 2_100 });
    expect(listSafItems(storeOf(db)).map((i) => i.transactionState)).toEqual(Array(6).fill('forwarded_approved'));
  });

  it('wipes the encrypted card blob the moment an advice is final (accepted or refused), keeps it while queued', async () => {
    const accepted = offlineSale(100);
    const refused = offlineSale(300, 'visa-expired');
    const blobBytes = () =>
      Object.fromEntries(
        db
          .prepare<[], { stan: string; state: string; bytes: number }>(
            `SELECT t.stan, q.state, length(q.encrypted_blob) AS bytes FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id`,
          )
          .all()
          .map((r) => [r.stan, [r.state, r.bytes]]),
      );
    expect(blobBytes()[accepted]).toEqual(['queued', expect.any(Number)]);
    expect((blobBytes()[accepted] as [string, number])[1]).toBeGreaterThan(0);
    link.start();
    saf.start();
    await until('the queue to drain', () => queued() === 0);
    expect(blobBytes()).toEqual({ [accepted]: ['forwarded', 0], [refused]: ['declined', 0] });
  });
});
