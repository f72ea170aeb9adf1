import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import type { ChipCompletion, IccData } from '../../drivers/card-reader/chip.js';
import { ReaderDisconnectedError, ReaderProtocolError } from '../../drivers/card-reader/errors.js';
import { encodeTlv, parseTlv } from '../../drivers/card-reader/tlv.js';
import type { CardReadResult, EntryMode } from '../../drivers/card-reader/types.js';
import { HostUnreachableError } from '../../firmware-app/host/errors.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import type { LinkState } from '../../firmware-app/host/link.js';
import type { ChipCard } from '../../firmware-app/payments/emv.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { PaymentEngine } from '../../firmware-app/payments/sale.js';
import { listSafItems } from '../../firmware-app/saf/queue.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { offlineQueueOf, storeOf } from '../support/store.js';

/**
 * The chip steps of the payments engine with a stand-in reader, card and host: what the
 * card says decides what the cashier, the journal and the queue see.
 */
const clock: Clock = {
  now: () => 1_800_000_000_000,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

const icc = (objects: [string, string][]): IccData => {
  const raw = encodeTlv(objects.map(([tag, hex]) => ({ tag, value: Buffer.from(hex, 'hex') })));
  return { raw, objects: parseTlv(raw) };
};
const FIRST = icc([
  ['9F26', '1122334455667788'],
  ['9F27', '80'],
  ['9F10', '06011203A00000'],
  ['9F37', 'CAFEBABE'],
  ['9F36', '0007'],
  ['95', '0000000000'],
  ['84', 'A0000000031010'],
]);

class FakeChip implements ChipCard {
  second: ChipCompletion['decision'] | Error = 'TC';
  first: IccData | Error = FIRST;
  readonly completions: [string, Buffer | undefined][] = [];
  icc(): Promise<IccData> {
    return this.first instanceof Error ? Promise.reject(this.first) : Promise.resolve(this.first);
  }
  complete(arc: string, issuer: Buffer | undefined): Promise<ChipCompletion> {
    this.completions.push([arc, issuer]);
    if (this.second instanceof Error) return Promise.reject(this.second);
    const cid = this.second === 'TC' ? '40' : '00';
    return Promise.resolve({
      decision: this.second,
      data: icc([
        ['9F26', '99AABBCCDDEEFF00'],
        ['9F27', cid],
        ['9F36', '0007'],
        ['95', '0000000000'],
      ]),
    });
  }
}

class FakeHost {
  state: LinkState = 'online';
  get ready(): boolean {
    return this.state !== 'offline';
  }
  readonly sent: IsoMessage[] = [];
  request(msg: IsoMessage): Promise<IsoMessage> {
    if (!this.ready) return Promise.reject(new HostUnreachableError('not connected'));
    this.sent.push(msg);
    const fields = new Map<number, string | Buffer>([
      [11, msg.fields.get(11)!],
      [37, '000000000001'],
      [38, 'A00001'],
      [39, '00'],
      [55, Buffer.from('910A00112233445566773030', 'hex')],
    ]);
    return Promise.resolve({ mti: '0210', fields });
  }
}

let db: Db;
let journal: Journal;
let chip: FakeChip;
let host: FakeHost;
let engine: PaymentEngine;
let entryMode: EntryMode;

beforeEach(() => {
  db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-chip-')), 'pos.db'));
  journal = new Journal(storeOf(db), clock);
  chip = new FakeChip();
  host = new FakeHost();
  entryMode = 'CHIP';
  const reader = {
    display: () => Promise.resolve(),
    cancel: () => Promise.resolve(),
    read: (): Promise<CardReadResult> =>
      Promise.resolve({
        maskedPan: '411111******1111',
        last4: '1111',
        expiry: '2812',
        entryMode,
        panToken: 'cd'.repeat(32),
        encryptedBlob: Buffer.alloc(48, 3),
        pinPolicy: 'LIMIT',
      }),
    pin: () => Promise.reject(new Error('no PIN under the CVM limit')),
  };
  engine = new PaymentEngine({
    store: storeOf(db),
    offlineQueue: offlineQueueOf(db),
    journal,
    reader,
    chip,
    link: host,
    clock,
    logger: silentLogger,
    settings: {
      identity: { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' },
      currency: 'CNY',
      maxAmount: 100_000,
      readTimeoutMs: 1000,
      responseTimeoutMs: 1000,
      offline: {
        enabled: true,
        floorLimit: 5_000,
        maxTotalAmount: 12_000,
        maxCount: 3,
        maxAgeMs: 86_400_000,
        entryModes: ['CHIP', 'CTLS'],
        hotListedTokens: [],
      },
      cvm: {
        limits: { CHIP: 1_000_000, CTLS: 1_000_000, SWIPE: 1_000_000, MANUAL: 1_000_000 },
        allowBypass: false,
        pinTimeoutMs: 1000,
        pinTries: 3,
      },
    },
  });
});

const events = (id: number): string =>
  db
    .prepare<[number], { detail: string }>('SELECT detail FROM transaction_events WHERE transaction_id = ?')
    .all(id)
    .map((e) => e.detail)
    .join('\n');

describe('chip steps of a sale', () => {
  it('sends the ICC data in field 55, hands the issuer data to the card, and journals only the allowed tags', async () => {
    const outcome = await engine.sale({ amount: 1234 });
    expect(outcome.result).toBe('approved');
    expect(host.sent[0]!.fields.get(55)).toEqual(FIRST.raw);
    expect(chip.completions).toEqual([['00', Buffer.from('910A00112233445566773030', 'hex')]]);
    const journaled = events(outcome.transaction.id);
    expect(journaled).toContain('1122334455667788');
    expect(journaled).not.toContain('CAFEBABE');
    expect(journaled).not.toContain('06011203A00000');
  });

  it.each([
    ['the card answers AAC', 'AAC' as const],
    ['the reader cannot complete', new ReaderDisconnectedError('/dev/ttyS1', 'gone')],
  ])('%s after the host approved: reversal pending with its own reason, no approval code', async (_, second) => {
    chip.second = second;
    const outcome = await engine.sale({ amount: 1234 });
    expect(outcome).toMatchObject({ result: 'reversal_pending', code: 'CHIP_DECLINED_AFTER_APPROVAL' });
    expect(journal.get(outcome.transaction.id)).toMatchObject({ state: 'reversal_pending', authCode: null });
  });

  it('ICC data the reader should not have sent ends the sale before anything reaches the host', async () => {
    chip.first = new ReaderProtocolError('ICC', 'ICC data carries card data (tag 5A)');
    const outcome = await engine.sale({ amount: 1234 });
    // A reader fault is no decline: nothing was sent, nothing charged.
    expect(outcome).toMatchObject({ result: 'not_completed', code: 'READER_PROTOCOL' });
    expect(host.sent).toEqual([]);
  });

  it('a swiped card has no chip step', async () => {
    entryMode = 'SWIPE';
    await engine.sale({ amount: 1234 });
    expect(host.sent[0]!.fields.has(55)).toBe(false);
    expect(chip.completions).toEqual([]);
  });

  it('offline: the card’s TC goes into the queue for the advice; an AAC declines, nothing queued', async () => {
    host.state = 'offline';
    const approved = await engine.sale({ amount: 1000 });
    expect(approved.result).toBe('offline_approved');
    expect(chip.completions).toEqual([['Y3', undefined]]);
    const advice = parseTlv(db.prepare<[], { icc_data: Buffer }>('SELECT icc_data FROM saf_queue').get()!.icc_data);
    expect(advice.map((o) => o.tag)).toEqual(['9F26', '9F27', '9F36', '95', '9F10', '9F37', '84']);
    expect(advice[1]!.value.toString('hex')).toBe('40');

    chip.second = 'AAC';
    const declined = await engine.sale({ amount: 1000 });
    expect(declined).toMatchObject({ result: 'declined_local', code: 'CHIP_DECLINED_OFFLINE' });
    expect(listSafItems(storeOf(db))).toHaveLength(1);
  });

  it('offline over the floor limit: the card is not asked, the rules decline', async () => {
    host.state = 'offline';
    const outcome = await engine.sale({ amount: 9000 });
    expect(outcome).toMatchObject({ result: 'declined_local', code: 'OFFLINE_FLOOR_LIMIT' });
    expect(chip.completions).toEqual([]);
  });
});
