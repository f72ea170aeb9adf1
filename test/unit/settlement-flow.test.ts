import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { HostUnreachableError } from '../../firmware-app/host/errors.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import type { TxnState } from '../../firmware-app/payments/lifecycle.js';
import { Settlement, type DrainPort } from '../../firmware-app/settlement/settlement.js';
import { currentBatch } from '../../firmware-app/store/counters.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { EscPosDecoder } from '../../sim/printer/escpos-decoder.js';
import { outboxOf, storeOf } from '../support/store.js';

const PATH: Partial<Record<TxnState, TxnState[]>> = {
  approved: ['card_read', 'online_sent', 'approved'],
  reversal_pending: ['card_read', 'online_sent', 'reversal_pending'],
  offline_approved: ['card_read', 'offline_approved'],
};

class StepClock implements Clock {
  t = Date.parse('2026-11-23T15:30:00Z');
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void): { unref?(): unknown } {
    this.t += 500;
    queueMicrotask(fn);
    return {};
  }
  clearTimeout(): void {}
}

/** A host that answers each 0500 with the next scripted code (or throws), remembering what it got. */
class ScriptedHost {
  readonly received: IsoMessage[] = [];
  constructor(private readonly answers: (string | Error)[]) {}
  async request(msg: IsoMessage): Promise<IsoMessage> {
    this.received.push(msg);
    const next = this.answers.shift() ?? '00';
    if (next instanceof Error) throw next;
    return {
      mti: '0510',
      fields: new Map<number, string | Buffer>([
        [11, msg.fields.get(11)!],
        [39, next],
      ]),
    };
  }
}

function text(bytes: Buffer): string {
  return new EscPosDecoder()
    .push(bytes)
    .flatMap((e) => (e.type === 'text' ? [e.text] : []))
    .join('');
}

describe('settlement', () => {
  let db: Db;
  let journal: Journal;
  let clock: StepClock;
  let printed: Buffer[];

  beforeEach(() => {
    db = openDatabase(join(mkdtempSync(join(tmpdir(), 'settle-')), 'pos.db'));
    clock = new StepClock();
    journal = new Journal(storeOf(db), clock);
    printed = [];
  });
  afterEach(() => db.close());

  function pay(amount: number, state: TxnState, type: 'sale' | 'refund' = 'sale'): number {
    const txn = journal.create({ type, amount, currency: 'CNY' });
    for (const s of PATH[state]!) journal.transition(txn.id, s);
    return txn.id;
  }

  function settlement(host: ScriptedHost, drains: { reversals?: DrainPort; saf?: DrainPort } = {}): Settlement {
    return new Settlement({
      store: storeOf(db),
      report: outboxOf(db, clock),
      clock,
      logger: silentLogger,
      host,
      ...drains,
      printReport: async (bytes) => void printed.push(bytes),
      settings: {
        identity: { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' },
        merchantName: 'Demo Store',
        currency: 'CNY',
        widthMm: 58,
        quiesceTimeoutMs: 2000,
        responseTimeoutMs: 5000,
      },
    });
  }

  it('in balance: sends the totals, closes the batch, moves to the next batch and prints the report', async () => {
    pay(1234, 'approved');
    pay(500, 'approved');
    pay(300, 'approved', 'refund');
    const host = new ScriptedHost(['00']);
    const s = settlement(host);
    const [outcome] = await s.settle(clock.now());

    const msg = host.received[0]!;
    expect(msg.mti).toBe('0500');
    expect(msg.fields.get(60)).toBe('000001');
    expect(msg.fields.get(63)).toBe('000002000000001734000001000000000300');
    expect(outcome).toMatchObject({ batchNumber: 1, result: 'in_balance', responseCode: '00', reportPrinted: true });
    expect(s.batch(1)).toMatchObject({ state: 'closed', responseCode: '00' });
    expect(currentBatch(db)).toBe(2);
    expect(s.batch(2)?.state).toBe('open');
    expect(journal.create({ type: 'sale', amount: 1, currency: 'CNY' }).batchNumber).toBe(2);

    const report = text(printed[0]!);
    expect(report).toContain('SETTLEMENT');
    expect(report).toMatch(/BATCH\s+000001/);
    expect(report).toMatch(/SALES x2\s+17\.34/);
    expect(report).toMatch(/REFUNDS x1\s+3\.00/);
    expect(report).toMatch(/NET\s+CNY 14\.34/);
    expect(report).toContain('IN BALANCE');

    const event = db.prepare(`SELECT type, payload FROM outbox WHERE type = 'settlement.result'`).get() as { payload: string };
    expect(JSON.parse(event.payload)).toMatchObject({ batchNumber: 1, result: 'in_balance', salesCount: 2, salesAmount: 1734 });
  });

  it('out of balance: marks the batch, raises an alert, keeps it for the technician, fails the run', async () => {
    pay(1234, 'approved');
    const s = settlement(new ScriptedHost(['95']));
    await expect(s.settle(clock.now())).rejects.toMatchObject({ code: 'SETTLEMENT_OUT_OF_BALANCE' });
    expect(s.batch(1)).toMatchObject({ state: 'out_of_balance', responseCode: '95', closedAt: null });
    expect(
      storeOf(db)
        .alerts.open()
        .map((a) => [a.key, a.severity]),
    ).toEqual([['settlement-out-of-balance:1', 'critical']]);
    expect(text(printed[0]!)).toContain('OUT OF BALANCE');
    // New payments no longer go into the disputed batch.
    expect(currentBatch(db)).toBe(2);

    const resolved = s.resolveOutOfBalance(1, 'technician');
    expect(resolved.state).toBe('closed');
    expect(storeOf(db).alerts.open()).toEqual([]);
    expect(db.prepare(`SELECT actor, action FROM audit_log`).all()).toEqual([
      { actor: 'technician', action: 'settlement.resolve-out-of-balance' },
    ]);
  });

  it('a batch the host did not close is sent again on the next run, before the new batch, with a new STAN', async () => {
    pay(1000, 'approved');
    const host = new ScriptedHost(['96', '00', '00']);
    const s = settlement(host);
    await expect(s.settle(clock.now())).rejects.toMatchObject({ code: 'SETTLEMENT_REJECTED' });
    expect(s.batch(1)?.state).toBe('settling');
    pay(2000, 'approved');

    clock.t += 86_400_000;
    const outcomes = await s.settle(clock.now());
    expect(outcomes.map((o) => [o.batchNumber, o.result])).toEqual([
      [1, 'in_balance'],
      [2, 'in_balance'],
    ]);
    expect(host.received.map((m) => [m.fields.get(60), m.fields.get(63)])).toEqual([
      ['000001', '000001000000001000000000000000000000'],
      ['000001', '000001000000001000000000000000000000'],
      ['000002', '000001000000002000000000000000000000'],
    ]);
    expect(new Set(host.received.map((m) => m.fields.get(11))).size).toBe(3);
  });

  it('a retry for the same slot settles what is left without cutting another batch', async () => {
    pay(1000, 'approved');
    const slot = clock.now();
    const s = settlement(new ScriptedHost([new HostUnreachableError('not connected'), '00']));
    await expect(s.settle(slot)).rejects.toMatchObject({ code: 'HOST_UNREACHABLE' });
    pay(50, 'approved');
    await s.settle(slot);
    expect(s.batch(1)?.state).toBe('closed');
    expect(currentBatch(db)).toBe(2);
    expect(s.batch(2)?.state).toBe('open');
  });

  it('drains reversals and store-and-forward first, and refuses to settle while they still hold the batch', async () => {
    pay(1000, 'approved');
    const rev = pay(400, 'reversal_pending');
    pay(600, 'offline_approved');
    const drained: string[] = [];
    const host = new ScriptedHost(['00']);
    const s = settlement(host, {
      reversals: {
        drain: async () => {
          drained.push('reversals');
          journal.transition(rev, 'reversed');
          return { remaining: 0 };
        },
      },
      saf: {
        drain: async () => {
          drained.push('saf');
          return { remaining: 1 };
        },
      },
    });
    const err = await s.settle(clock.now()).catch((e: unknown) => e);
    expect(drained).toEqual(['reversals', 'saf']);
    expect(err).toMatchObject({ code: 'SETTLEMENT_BLOCKED', details: expect.objectContaining({ offlinePending: 1, reversalsPending: 0 }) });
    expect((err as Error).message).toMatch(/1 offline sale\(s\) not yet forwarded/);
    expect(host.received).toEqual([]);
    expect(s.batch(1)?.state).toBe('settling');
  });

  it('waits for a sale that was at the card when the batch was cut, and counts it in the closing batch', async () => {
    const inFlight = journal.create({ type: 'sale', amount: 700, currency: 'CNY' });
    journal.transition(inFlight.id, 'card_read');
    const host = new ScriptedHost(['00']);
    const s = settlement(host);
    let polls = 0;
    const tick = clock.setTimeout.bind(clock);
    clock.setTimeout = (fn: () => void) => {
      if (++polls === 2) {
        // While settlement waits: a new sale lands in the next batch, the old one gets its answer.
        expect(journal.create({ type: 'sale', amount: 5, currency: 'CNY' }).batchNumber).toBe(2);
        journal.transition(inFlight.id, 'online_sent');
        journal.transition(inFlight.id, 'approved');
      }
      return tick(fn);
    };
    const [outcome] = await s.settle(clock.now());
    expect(outcome).toMatchObject({ batchNumber: 1, result: 'in_balance', totals: { salesCount: 1, salesAmount: 700 } });
  });

  it('does not wait for a payment a crash left at the card reader', async () => {
    const stale = journal.create({ type: 'sale', amount: 700, currency: 'CNY' });
    db.prepare(`UPDATE transactions SET updated_at = ? WHERE id = ?`).run(clock.now() - 86_400_000, stale.id);
    pay(100, 'approved');
    const started = clock.now();
    const [outcome] = await settlement(new ScriptedHost(['00'])).settle(clock.now());
    expect(outcome).toMatchObject({ result: 'in_balance', totals: { salesCount: 1, salesAmount: 100 } });
    expect(clock.now() - started).toBeLessThan(2000);
  });

  it('a report the printer could not take does not undo the closed batch', async () => {
    pay(1000, 'approved');
    const s = new Settlement({
      store: storeOf(db),
      report: outboxOf(db, clock),
      clock,
      logger: silentLogger,
      host: new ScriptedHost(['00']),
      printReport: async () => {
        throw new Error('paper out');
      },
      settings: {
        identity: { terminalId: 'TERM0001', merchantId: '000000000000001', nii: '001' },
        merchantName: 'Demo Store',
        currency: 'CNY',
        widthMm: 58,
        quiesceTimeoutMs: 2000,
        responseTimeoutMs: 5000,
      },
    });
    const [outcome] = await s.settle(clock.now());
    expect(outcome).toMatchObject({ result: 'in_balance', reportPrinted: false, printError: 'paper out' });
    expect(s.batch(1)?.state).toBe('closed');
  });
});
