import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { ReaderCommandError, ReaderDisconnectedError, ReaderTimeoutError } from '../../drivers/card-reader/errors.js';
import type { CardReadResult, EntryMode, PinPolicy, PinResult } from '../../drivers/card-reader/types.js';
import { HostTimeoutError, HostUnreachableError } from '../../firmware-app/host/errors.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import type { LinkState } from '../../firmware-app/host/link.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import type { OfflineRules } from '../../firmware-app/payments/offline-rules.js';
import { PaymentEngine, type PaymentSettings } from '../../firmware-app/payments/sale.js';
import { listSafItems } from '../../firmware-app/saf/queue.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { offlineQueueOf, storeOf } from '../support/store.js';

const clock: Clock = {
  now: () => 1_800_000_000_000,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

const BLOCK = Buffer.alloc(16, 0x5a);
const KSN = Buffer.from('123456789012345600000007', 'hex');

class FakeReader {
  entryMode: EntryMode = 'CHIP';
  pinPolicy: PinPolicy = 'LIMIT';
  /** What the cardholder does at each PIN: a result, or the reader's error. Unscripted: a PIN is entered. */
  readonly pins: (PinResult | Error)[] = [];
  pinCalls = 0;
  panToken = 'cd'.repeat(32);
  fail: Error | undefined;
  private pendingReject: ((e: Error) => void) | undefined;
  waitForCancel = false;
  async display(): Promise<void> {}
  pin(): Promise<PinResult> {
    this.pinCalls++;
    const next = this.pins.shift() ?? { bypassed: false, pinBlock: BLOCK, ksn: KSN };
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
  read(): Promise<CardReadResult> {
    if (this.fail) return Promise.reject(this.fail);
    if (this.waitForCancel) return new Promise((_, reject) => (this.pendingReject = reject));
    return Promise.resolve({
      maskedPan: '411111******1111',
      last4: '1111',
      expiry: '2812',
      entryMode: this.entryMode,
      panToken: this.panToken,
      encryptedBlob: Buffer.alloc(48, 3),
      pinPolicy: this.pinPolicy,
    });
  }
  async cancel(): Promise<void> {
    this.pendingReject?.(new ReaderCommandError('READ', 'CANCELLED'));
  }
}

/** A field-39 code, or 'timeout' / 'unreachable' / 'dead' (a timeout that also takes the link down). */
type HostReply = string;

class FakeHost {
  state: LinkState = 'online';
  /** Ready as the real link is: signed on, which an offline link never is. */
  get ready(): boolean {
    return this.state !== 'offline';
  }
  readonly sent: IsoMessage[] = [];
  readonly script: HostReply[] = [];
  /** Journal state of the transaction at the moment its request left. */
  readonly stateAtSend: string[] = [];
  constructor(private readonly stateOf: (stan: string) => string | undefined) {}
  async request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage> {
    const reply = this.script.shift() ?? '00';
    if (reply === 'unreachable') throw new HostUnreachableError('not connected');
    this.sent.push(msg);
    this.stateAtSend.push(this.stateOf(String(msg.fields.get(11))) ?? 'none');
    if (reply === 'dead') this.state = 'offline';
    if (reply === 'timeout' || reply === 'dead') throw new HostTimeoutError(msg.mti, String(msg.fields.get(11)), timeoutMs);
    const fields = new Map<number, string | Buffer>([
      [11, msg.fields.get(11)!],
      [37, `RRN${String(this.sent.length).padStart(9, '0')}`],
      [39, reply],
    ]);
    if (reply === '00') fields.set(38, `A${String(this.sent.length).padStart(5, '0')}`);
    return { mti: '0210', fields };
  }
}

const offline: OfflineRules = {
  enabled: true,
  floorLimit: 5_000,
  maxTotalAmount: 12_000,
  maxCount: 3,
  maxAgeMs: 86_400_000,
  entryModes: ['CHIP', 'CTLS'],
  hotListedTokens: ['ee'.repeat(32)],
};

let db: Db;
let journal: Journal;
let reader: FakeReader;
let host: FakeHost;
let engine: PaymentEngine;
let settings: PaymentSettings;

beforeEach(() => {
  db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-pay-')), 'pos.db'));
  journal = new Journal(storeOf(db), clock);
  reader = new FakeReader();
  host = new FakeHost((stan) => journal.findByStan(stan)?.state);
  settings = {
    identity: { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' },
    currency: 'CNY',
    maxAmount: 100_000,
    readTimeoutMs: 1000,
    responseTimeoutMs: 1000,
    offline,
    cvm: {
      limits: { CHIP: 1_000_000, CTLS: 1_000_000, SWIPE: 1_000_000, MANUAL: 1_000_000 },
      allowBypass: false,
      pinTimeoutMs: 1000,
      pinTries: 3,
    },
  };
  engine = new PaymentEngine({
    store: storeOf(db),
    offlineQueue: offlineQueueOf(db),
    journal,
    reader,
    link: host,
    clock,
    logger: silentLogger,
    settings,
  });
});

afterEach(() => db.close());

const history = (id: number) => journal.events(id).map((e) => e.toState);

describe('payments engine: input validation', () => {
  it('refuses zero, negative, fractional and over-limit amounts and other currencies, recording nothing', async () => {
    for (const amount of [0, -5, 12.5, 100_001]) {
      await expect(engine.sale({ amount })).rejects.toMatchObject({ code: 'AMOUNT_INVALID' });
    }
    await expect(engine.sale({ amount: 100, currency: 'USD' })).rejects.toMatchObject({ code: 'CURRENCY_NOT_ACCEPTED' });
    await expect(engine.sale({ amount: 100, currency: 'XXX' })).rejects.toMatchObject({ code: 'CURRENCY_NOT_ACCEPTED' });
    expect(journal.recent()).toEqual([]);
    expect((await engine.sale({ amount: 100_000 })).result).toBe('approved');
  });
});

describe('payments engine: sale', () => {
  it('commits online_sent before the 0200 leaves and approves on 00', async () => {
    const out = await engine.sale({ amount: 1_234 });
    expect(out).toMatchObject({ result: 'approved', message: 'APPROVED' });
    expect(host.stateAtSend).toEqual(['online_sent']);
    expect(history(out.transaction.id)).toEqual(['created', 'card_read', 'online_sent', 'approved']);
  });

  it('a timeout becomes reversal_pending, never offline and never re-sent', async () => {
    host.script.push('timeout');
    const out = await engine.sale({ amount: 1_000 });
    expect(out).toMatchObject({ result: 'reversal_pending', code: 'HOST_TIMEOUT' });
    expect(host.sent).toHaveLength(1);
    expect(listSafItems(storeOf(db))).toEqual([]);
  });

  it('tells the cashier what a retry of a sale being reversed does now: online while the host answers', async () => {
    host.script.push('timeout');
    expect(await engine.sale({ amount: 1_000 })).toMatchObject({ result: 'reversal_pending', retry: 'online' });
  });

  it('after a dead connection, a retry is approved offline within the limits, or needs another payment method over them', async () => {
    // The link gives the dead connection up as it fails the request: not ready any more.
    host.script.push('dead', 'dead');
    expect(await engine.sale({ amount: 1_000 })).toMatchObject({ result: 'reversal_pending', retry: 'offline' });
    host.state = 'online';
    expect(await engine.sale({ amount: 6_000 })).toMatchObject({ result: 'reversal_pending', retry: 'other-method' });
    expect(host.sent).toHaveLength(2);
  });

  it('with the link down, approves offline within the rules and queues it in the same transaction', async () => {
    host.state = 'offline';
    const out = await engine.sale({ amount: 5_000 });
    expect(out).toMatchObject({ result: 'offline_approved', message: 'APPROVED OFFLINE' });
    const txn = journal.get(out.transaction.id);
    expect(txn.authCode).toBe(`Y1${txn.stan!.slice(-4)}`);
    expect(history(txn.id)).toEqual(['created', 'card_read', 'offline_approved']);
    expect(listSafItems(storeOf(db))).toEqual([
      expect.objectContaining({ transactionId: txn.id, stan: txn.stan, state: 'queued', sends: 0 }),
    ]);
  });

  it('once online_sent is committed, a link failure is reversed, never turned into an offline approval', async () => {
    host.script.push('unreachable');
    const out = await engine.sale({ amount: 500 });
    expect(out).toMatchObject({ result: 'reversal_pending', code: 'HOST_TIMEOUT' });
    expect(listSafItems(storeOf(db))).toEqual([]);
  });

  it('with the link down, decides offline straight away and declines over the floor limit with its reason', async () => {
    host.state = 'offline';
    const ok = await engine.sale({ amount: 5_000 });
    const over = await engine.sale({ amount: 5_001 });
    expect(ok.result).toBe('offline_approved');
    expect(history(ok.transaction.id)).toEqual(['created', 'card_read', 'offline_approved']);
    expect(over).toMatchObject({
      result: 'declined_local',
      code: 'OFFLINE_FLOOR_LIMIT',
      message: 'DECLINED: Offline: amount over floor limit',
    });
    expect(host.sent).toEqual([]);
    expect(listSafItems(storeOf(db))).toEqual([
      expect.objectContaining({ transactionId: ok.transaction.id, stan: expect.stringMatching(/^\d{6}$/) }),
    ]);
  });

  it('enforces the queue caps across sales: count, then total amount', async () => {
    host.state = 'offline';
    const r = [];
    for (const amount of [5_000, 5_000, 2_001]) r.push((await engine.sale({ amount })).code);
    expect(r).toEqual([null, null, 'OFFLINE_AMOUNT_LIMIT']);
    expect((await engine.sale({ amount: 2_000 })).result).toBe('offline_approved');
    expect((await engine.sale({ amount: 1 })).code).toBe('OFFLINE_COUNT_LIMIT');
    expect(listSafItems(storeOf(db))).toHaveLength(3);
  });

  it('declines offline a swiped card and a hot-listed card', async () => {
    host.state = 'offline';
    reader.entryMode = 'SWIPE';
    expect((await engine.sale({ amount: 100 })).code).toBe('OFFLINE_ENTRY_MODE');
    reader.entryMode = 'CHIP';
    reader.panToken = 'ee'.repeat(32);
    expect((await engine.sale({ amount: 100 })).code).toBe('HOT_LISTED_CARD');
  });

  it('a cashier cancel during the card read ends the sale as cancelled', async () => {
    reader.waitForCancel = true;
    const sale = engine.sale({ amount: 100 });
    await new Promise((r) => setTimeout(r, 5));
    const cancelled = engine.cancel();
    const outcome = await sale;
    expect(outcome).toMatchObject({ result: 'cancelled', code: 'CASHIER_CANCELLED', message: 'CANCELLED: Cancelled by cashier' });
    expect(outcome.transaction.state).toBe('cancelled');
    expect(await cancelled).toBe('cancelling');
    expect(await engine.cancel()).toBe('idle');
  });

  it('a reader fault ends the sale NOT COMPLETED with its reason, never declined, and nothing goes to the host', async () => {
    const faults: [Error, string][] = [
      [new ReaderDisconnectedError('/dev/ttyS1', 'unplugged'), 'READER_DISCONNECTED'],
      [new ReaderTimeoutError('READ', 1000), 'READER_TIMEOUT'],
      [new ReaderCommandError('READ', 'CARD_READ_FAILED'), 'READER_CARD_READ_FAILED'],
      [new ReaderCommandError('READ', 'TIMEOUT'), 'READER_NO_CARD'],
    ];
    for (const [fault, code] of faults) {
      reader.fail = fault;
      const outcome = await engine.sale({ amount: 100 });
      expect(outcome).toMatchObject({ result: 'not_completed', code });
      expect(outcome.message).toMatch(/^NOT COMPLETED: /);
      expect(outcome.transaction.state).toBe('not_completed');
    }
    expect(host.sent).toEqual([]);
  });
});

describe('payments engine: refund', () => {
  it('sends a 0200 with processing code 200000 and refuses more than the original, counting earlier refunds', async () => {
    const sale = await engine.sale({ amount: 3_000 });
    const first = await engine.refund({ amount: 2_000, originalId: sale.transaction.id });
    expect(first.result).toBe('approved');
    expect(host.sent[1]!.fields.get(3)).toBe('200000');
    await expect(engine.refund({ amount: 1_001, originalId: sale.transaction.id })).rejects.toMatchObject({
      code: 'REFUND_EXCEEDS_ORIGINAL',
    });
    expect((await engine.refund({ amount: 1_000, originalId: sale.transaction.id })).result).toBe('approved');
    await expect(engine.refund({ amount: 1, originalId: sale.transaction.id })).rejects.toMatchObject({ code: 'REFUND_EXCEEDS_ORIGINAL' });
  });

  it('journals the operator on every payment, and marks a refund made without its original as unreferenced', async () => {
    const sale = await engine.sale({ amount: 3_000, operator: '07' });
    const linked = await engine.refund({ amount: 500, originalId: sale.transaction.id, operator: '07' });
    const blind = await engine.refund({ amount: 400, operator: '03' });
    const other = await engine.sale({ amount: 900, operator: '03' });
    const voided = await engine.void({ originalId: other.transaction.id, operator: '01' });
    const row = (id: number) => journal.get(id);
    expect(row(sale.transaction.id)).toMatchObject({ operator: '07', unreferenced: false });
    expect(row(linked.transaction.id)).toMatchObject({ operator: '07', unreferenced: false });
    expect(row(blind.transaction.id)).toMatchObject({ operator: '03', unreferenced: true, state: 'approved' });
    expect(row(voided.transaction.id)).toMatchObject({ operator: '01', type: 'void', unreferenced: false });
  });

  it('a declined refund does not use up the original', async () => {
    const sale = await engine.sale({ amount: 3_000 });
    host.script.push('05');
    expect((await engine.refund({ amount: 3_000, originalId: sale.transaction.id })).result).toBe('declined');
    expect((await engine.refund({ amount: 3_000, originalId: sale.transaction.id })).result).toBe('approved');
  });

  it('is online only: with the host unreachable it is declined locally, never queued', async () => {
    host.state = 'offline';
    const out = await engine.refund({ amount: 100 });
    expect(out).toMatchObject({ result: 'declined_local', code: 'OFFLINE_REFUND_NOT_ALLOWED' });
    expect(host.sent).toEqual([]);
    expect(listSafItems(storeOf(db))).toEqual([]);
  });

  it('refuses refunds of what was not a paid sale', async () => {
    host.script.push('05');
    const declined = await engine.sale({ amount: 500 });
    await expect(engine.refund({ amount: 100, originalId: declined.transaction.id })).rejects.toMatchObject({
      code: 'ORIGINAL_NOT_REFUNDABLE',
    });
    await expect(engine.refund({ amount: 100, originalId: 9999 })).rejects.toMatchObject({ code: 'TXN_NOT_FOUND' });
  });
});

describe('payments engine: void', () => {
  it('voids an approved sale of the open batch with 020000, field 37 and field 90', async () => {
    const sale = await engine.sale({ amount: 700 });
    await engine.sale({ amount: 800 });
    const v = await engine.void({ originalId: sale.transaction.id });
    expect(v.result).toBe('approved');
    const msg = host.sent[2]!;
    const original = journal.get(sale.transaction.id);
    expect(msg.fields.get(3)).toBe('020000');
    expect(msg.fields.get(4)).toBe('000000000700');
    expect(String(msg.fields.get(37)).trim()).toBe(original.rrn);
    expect(msg.fields.get(90)).toBe(`0200${original.stan}${original.transmittedAt}${'0'.repeat(22)}`);
    expect(host.stateAtSend[2]).toBe('online_sent');
    expect(original.state).toBe('voided');
    expect(history(original.id)).toEqual(['created', 'card_read', 'online_sent', 'approved', 'void_pending', 'voided']);
    expect(journal.get(v.transaction.id)).toMatchObject({ type: 'void', originalId: original.id, state: 'approved' });
    await expect(engine.void({ originalId: original.id })).rejects.toMatchObject({ code: 'ORIGINAL_NOT_VOIDABLE' });
  });

  it('a declined or timed-out void leaves the sale approved', async () => {
    const sale = await engine.sale({ amount: 700 });
    host.script.push('12');
    expect((await engine.void({ originalId: sale.transaction.id })).result).toBe('declined');
    expect(journal.get(sale.transaction.id).state).toBe('approved');
    host.script.push('timeout');
    expect((await engine.void({ originalId: sale.transaction.id })).result).toBe('reversal_pending');
    expect(journal.get(sale.transaction.id).state).toBe('approved');
  });

  it('refuses offline sales, closed batches, and voiding while offline', async () => {
    host.state = 'offline';
    const off = await engine.sale({ amount: 100 });
    await expect(engine.void({ originalId: off.transaction.id })).rejects.toMatchObject({ code: 'ORIGINAL_NOT_VOIDABLE' });
    host.state = 'online';
    const sale = await engine.sale({ amount: 100 });
    host.state = 'offline';
    expect(await engine.void({ originalId: sale.transaction.id })).toMatchObject({
      result: 'declined_local',
      code: 'OFFLINE_VOID_NOT_ALLOWED',
    });
    expect(journal.get(sale.transaction.id).state).toBe('approved');
    host.state = 'online';
    db.prepare(`UPDATE counters SET value = value + 1 WHERE name = 'batch'`).run();
    await expect(engine.void({ originalId: sale.transaction.id })).rejects.toMatchObject({ code: 'ORIGINAL_NOT_VOIDABLE' });
  });

  it('start-up recovery puts a sale whose void never got an answer back to approved', async () => {
    const sale = await engine.sale({ amount: 100 });
    db.transaction(() => {
      const v = journal.create({ type: 'void', amount: 100, currency: 'CNY', originalId: sale.transaction.id });
      journal.transition(sale.transaction.id, 'void_pending');
      journal.transition(v.id, 'online_sent', { stan: '000077', stanDay: '2027-01-15' });
      journal.transition(v.id, 'reversal_pending');
    })();
    engine.recoverVoids();
    expect(journal.get(sale.transaction.id).state).toBe('approved');
  });
});

describe('payments engine: PIN above the CVM limit', () => {
  /** The same engine with a CVM limit of 50.00 for every entry mode. */
  const withLimit = (over: Partial<PaymentSettings['cvm']> = {}) => {
    const cvm = { ...settings.cvm, limits: { CHIP: 5_000, CTLS: 5_000, SWIPE: 5_000, MANUAL: 5_000 }, ...over };
    return new PaymentEngine({
      store: storeOf(db),
      offlineQueue: offlineQueueOf(db),
      journal,
      reader,
      link: host,
      clock,
      logger: silentLogger,
      settings: { ...settings, cvm },
    });
  };
  const pinFields = (i: number) => [host.sent[i]!.fields.get(52), host.sent[i]!.fields.get(53)];

  it('at the limit no PIN is asked; one unit over, the block and KSN go in fields 52/53 and the approval is PIN verified', async () => {
    const pay = withLimit();
    const at = await pay.sale({ amount: 5_000 });
    expect(reader.pinCalls).toBe(0);
    expect(pinFields(0)).toEqual([undefined, undefined]);
    expect(journal.get(at.transaction.id).pinVerified).toBe(false);
    const progress: string[] = [];
    const over = await pay.sale({ amount: 5_001 }, (p) => progress.push(p));
    expect(over.result).toBe('approved');
    expect(progress).toEqual(['waiting-for-card', 'card-read', 'entering-pin', 'waiting-for-host', 'done']);
    expect(pinFields(1)).toEqual([BLOCK, KSN]);
    expect(journal.get(over.transaction.id).pinVerified).toBe(true);
  });

  it('a card that asks for a PIN always is asked at any amount; a refund never is', async () => {
    reader.pinPolicy = 'ALWAYS';
    const pay = withLimit();
    await pay.sale({ amount: 100 });
    expect(reader.pinCalls).toBe(1);
    await pay.refund({ amount: 100 });
    expect(reader.pinCalls).toBe(1);
    expect(pinFields(1)).toEqual([undefined, undefined]);
  });

  it('a wrong PIN (55) is asked again in a new sale with a new STAN, up to cvm.pinTries; the last answer stands', async () => {
    host.script.push('55', '55', '55');
    const out = await withLimit({ pinTries: 3 }).sale({ amount: 9_000 });
    expect(out).toMatchObject({ result: 'declined', code: '55' });
    expect(reader.pinCalls).toBe(3);
    expect(new Set(host.sent.map((m) => m.fields.get(11))).size).toBe(3);
    host.script.push('55', '00');
    const retried = await withLimit().sale({ amount: 9_000, operator: '07' });
    expect(retried.result).toBe('approved');
    expect(reader.pinCalls).toBe(5);
    // The new sale of the second try is still the signed-in operator's.
    expect(retried.transaction.operator).toBe('07');
  });

  it('a bypass stands only where the card and the configuration both allow it, else PIN_REQUIRED and nothing sent', async () => {
    reader.pins.push({ bypassed: true }, { bypassed: true }, { bypassed: true });
    expect(await withLimit({ allowBypass: true }).sale({ amount: 9_000 })).toMatchObject({
      result: 'declined_local',
      code: 'PIN_REQUIRED',
    });
    reader.pinPolicy = 'LIMIT_BYPASS';
    expect(await withLimit({ allowBypass: false }).sale({ amount: 9_000 })).toMatchObject({ code: 'PIN_REQUIRED' });
    expect(host.sent).toEqual([]);
    const bypassed = await withLimit({ allowBypass: true }).sale({ amount: 9_000 });
    expect(bypassed.result).toBe('approved');
    expect(pinFields(0)).toEqual([undefined, undefined]);
    expect(journal.get(bypassed.transaction.id).pinVerified).toBe(false);
  });

  it('no PIN entered or a cancel at the reader ends the sale before anything is sent, with the card recorded', async () => {
    reader.pins.push(new ReaderCommandError('PIN', 'TIMEOUT'), new ReaderCommandError('PIN', 'CANCELLED'));
    const pay = withLimit();
    const timedOut = await pay.sale({ amount: 9_000 });
    expect(timedOut).toMatchObject({ result: 'declined_local', code: 'READER_PIN_TIMEOUT' });
    expect(history(timedOut.transaction.id)).toEqual(['created', 'card_read', 'declined_local']);
    expect(await pay.sale({ amount: 9_000 })).toMatchObject({ result: 'cancelled', code: 'READER_CANCELLED' });
    expect(host.sent).toEqual([]);
  });

  it('with the link down a sale that needs a PIN is declined OFFLINE_PIN_REQUIRED without asking for one', async () => {
    host.state = 'offline';
    const out = await withLimit({ limits: { CHIP: 1_000, CTLS: 1_000, SWIPE: 1_000, MANUAL: 1_000 } }).sale({ amount: 2_000 });
    expect(out).toMatchObject({ result: 'declined_local', code: 'OFFLINE_PIN_REQUIRED', message: 'DECLINED: Offline: PIN needs the host' });
    expect(reader.pinCalls).toBe(0);
    expect(listSafItems(storeOf(db))).toEqual([]);
  });
});
