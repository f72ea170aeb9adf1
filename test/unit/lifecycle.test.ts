import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canTransition,
  isCancel,
  isDecline,
  lifecycleGuardSql,
  reduce,
  SAMPLE_EVENTS,
  TXN_STATES,
  TXN_TYPES,
  type LifecycleEvent,
  type TxnState,
  type TxnType,
} from '../../firmware-app/payments/lifecycle.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { ManualClock } from '../support/manual-clock.js';
import { storeOf } from '../support/store.js';

let db: Db;
beforeAll(() => {
  db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-lifecycle-')), 'pos.db'));
});
afterAll(() => db.close());

let uuid = 0;
function insert(type: TxnType): number {
  return Number(
    db
      .prepare(
        `INSERT INTO transactions (uuid, type, state, amount, currency, batch_number, created_at, updated_at)
         VALUES (?, ?, 'created', 100, 'CNY', 1, 0, 0)`,
      )
      .run(`u${++uuid}`, type).lastInsertRowid,
  );
}

/** Tries the change in the database; true when the trigger let it through. */
function dbMove(id: number, next: TxnState): boolean {
  try {
    db.prepare(`UPDATE transactions SET state = ? WHERE id = ?`).run(next, id);
    return true;
  } catch (err) {
    if (err instanceof Error && /lifecycle/.test(err.message)) return false;
    throw err;
  }
}
const dbState = (id: number) => db.prepare<[number], { state: TxnState }>(`SELECT state FROM transactions WHERE id = ?`).get(id)!.state;

const typeArb = fc.constantFrom(...TXN_TYPES);
const eventArb = fc.constantFrom(...SAMPLE_EVENTS);
const stateArb = fc.constantFrom(...TXN_STATES);

describe('lifecycle reducer and database guard', () => {
  it('agree on every random event sequence: the reducer step is accepted by the trigger, a refused event changes nothing', () => {
    fc.assert(
      fc.property(typeArb, fc.array(eventArb, { maxLength: 12 }), (type, events: LifecycleEvent[]) => {
        const id = insert(type);
        let state: TxnState = 'created';
        for (const event of events) {
          const step = reduce(type, state, event);
          if (step === null) continue;
          expect(dbMove(id, step.next)).toBe(true);
          state = step.next;
        }
        expect(dbState(id)).toBe(state);
      }),
      { numRuns: 300 },
    );
  });

  it('agree on arbitrary writes: the trigger accepts a state change exactly when some event of the reducer makes it', () => {
    fc.assert(
      fc.property(typeArb, fc.array(stateArb, { maxLength: 12 }), (type, targets) => {
        const id = insert(type);
        let state: TxnState = 'created';
        for (const next of targets) {
          if (next === state) continue;
          const allowed = SAMPLE_EVENTS.some((e) => reduce(type, state, e)?.next === next);
          expect(canTransition(type, state, next)).toBe(allowed);
          expect(dbMove(id, next)).toBe(allowed);
          if (allowed) state = next;
        }
        expect(dbState(id)).toBe(state);
      }),
      { numRuns: 300 },
    );
  });

  it('reaches no money state the rules forbid, whatever the events', () => {
    fc.assert(
      fc.property(typeArb, fc.array(eventArb, { maxLength: 16 }), (type, events) => {
        const path: TxnState[] = ['created'];
        for (const event of events) {
          const step = reduce(type, path.at(-1)!, event);
          if (step) path.push(step.next);
        }
        // A refund never goes offline; a void never reads a card and is never offline-approved.
        if (type !== 'sale') expect(path.filter((s) => s === 'offline_approved' || s === 'void_pending' || s === 'voided')).toEqual([]);
        if (type === 'void') expect(path).not.toContain('card_read');
        for (let i = 1; i < path.length; i++) {
          const [from, next] = [path[i - 1]!, path[i]!];
          // Money comes back only through an acknowledged reversal, and only from reversal_pending.
          if (next === 'reversed') expect(from).toBe('reversal_pending');
          // Nothing sent can be cancelled or closed as not completed; a cancel is no decline.
          if (isCancel(next) || next === 'not_completed') expect(['created', 'card_read']).toContain(from);
          if (isCancel(next)) expect(isDecline(next)).toBe(false);
          // An answered or reversed request never becomes approved again, except a sale whose void failed.
          if (next === 'approved') expect(['online_sent', 'void_pending']).toContain(from);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the journal commits the step the reducer returns and refuses an event it does not allow there', () => {
    const journal = new Journal(storeOf(db), new ManualClock());
    const refund = journal.create({ type: 'refund', amount: 100, currency: 'CNY' });
    expect(journal.apply(refund.id, { kind: 'CardRead' }).state).toBe('card_read');
    expect(() => journal.apply(refund.id, { kind: 'OfflineDecided', approved: true })).toThrow(/cannot go from card_read/);
    expect(journal.apply(refund.id, { kind: 'Unreachable' }).state).toBe('declined_local');
    const sale = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    journal.apply(sale.id, { kind: 'CardRead' });
    journal.apply(sale.id, { kind: 'Sent' }, { stan: '000901', stanDay: '2026-01-01' });
    expect(() => journal.apply(sale.id, { kind: 'Cancelled' })).toThrow(/cannot go from online_sent/);
    expect(journal.apply(sale.id, { kind: 'Answered', code: '05' }).state).toBe('declined');
  });

  it('stores no state the lifecycle does not know', () => {
    expect(() =>
      db
        .prepare(
          `INSERT INTO transactions (uuid, type, state, amount, currency, batch_number, created_at, updated_at)
           VALUES ('bogus', 'sale', 'refunded', 100, 'CNY', 1, 0, 0)`,
        )
        .run(),
    ).toThrow(/unknown transaction state/);
  });

  it('queues a reversal on a timeout and reports a cancel as a cancel, never as a decline', () => {
    expect(reduce('sale', 'online_sent', { kind: 'TimedOut' })).toEqual({
      next: 'reversal_pending',
      effects: ['reverse', 'report-decline'],
    });
    expect(reduce('sale', 'created', { kind: 'Cancelled' })).toEqual({ next: 'cancelled', effects: ['report-cancel'] });
    expect(reduce('sale', 'online_sent', { kind: 'Cancelled' })).toBeNull();
    expect(reduce('refund', 'card_read', { kind: 'OfflineDecided', approved: true })).toBeNull();
    expect(reduce('void', 'created', { kind: 'CardRead' })).toBeNull();
  });

  it('the triggers installed by the migration are the ones the reducer generates now', () => {
    const installed = db
      .prepare<[], { sql: string }>(
        `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'transactions_state_%' ORDER BY name`,
      )
      .all()
      .map((r) => r.sql.replace(/\s+/g, ' ').trim());
    const generated = lifecycleGuardSql()
      .split(/;\s*(?=CREATE)/)
      .map((s) => s.replace(/;\s*$/, '').replace(/\s+/g, ' ').trim())
      .sort();
    expect(installed).toEqual(generated);
  });
});
