import { randomUUID } from 'node:crypto';
import type { Clock } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import type { CurrencyCode } from '../core/money.js';
import { currentBatch } from '../store/counters.js';
import type { Db } from '../store/db.js';
import { canTransition, effectsOf, reduce, type LifecycleEffect, type LifecycleEvent, type TxnState, type TxnType } from './lifecycle.js';

export interface Transaction {
  id: number;
  uuid: string;
  type: TxnType;
  state: TxnState;
  amount: number;
  currency: CurrencyCode;
  stan: string | null;
  stanDay: string | null;
  transmittedAt: string | null;
  maskedPan: string | null;
  last4: string | null;
  panToken: string | null;
  entryMode: string | null;
  authCode: string | null;
  rrn: string | null;
  responseCode: string | null;
  declineCode: string | null;
  originalId: number | null;
  batchNumber: number;
  /** The cashier's operator number (操作员号) signed in at the console; null from other entry points. */
  operator: string | null;
  /** A refund made without its original sale, on a supervisor's authority. */
  unreferenced: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface TransactionEvent {
  id: number;
  transactionId: number;
  fromState: TxnState | null;
  toState: TxnState;
  at: number;
  detail: Record<string, unknown> | null;
}

/** Columns a transition may set alongside the state. */
export type TxnPatch = Partial<
  Pick<
    Transaction,
    | 'stan'
    | 'stanDay'
    | 'transmittedAt'
    | 'maskedPan'
    | 'last4'
    | 'panToken'
    | 'entryMode'
    | 'authCode'
    | 'rrn'
    | 'responseCode'
    | 'declineCode'
  >
>;

export class InvalidTransitionError extends PosError {
  constructor(id: number, from: string, to: string) {
    super('TXN_INVALID_TRANSITION', `transaction ${id} cannot go from ${from} to ${to}`, { id, from, to });
  }
}

export class TransactionNotFoundError extends PosError {
  constructor(id: number) {
    super('TXN_NOT_FOUND', `transaction ${id} does not exist`, { id });
  }
}

const COLUMN: Record<keyof TxnPatch, string> = {
  stan: 'stan',
  stanDay: 'stan_day',
  transmittedAt: 'transmitted_at',
  maskedPan: 'masked_pan',
  last4: 'last4',
  panToken: 'pan_token',
  entryMode: 'entry_mode',
  authCode: 'auth_code',
  rrn: 'rrn',
  responseCode: 'response_code',
  declineCode: 'decline_code',
};

interface Row {
  id: number;
  uuid: string;
  type: TxnType;
  state: TxnState;
  amount: number;
  currency: CurrencyCode;
  stan: string | null;
  stan_day: string | null;
  transmitted_at: string | null;
  masked_pan: string | null;
  last4: string | null;
  pan_token: string | null;
  entry_mode: string | null;
  auth_code: string | null;
  rrn: string | null;
  response_code: string | null;
  decline_code: string | null;
  original_id: number | null;
  batch_number: number;
  operator: string | null;
  unreferenced: number;
  created_at: number;
  updated_at: number;
}

function fromRow(r: Row): Transaction {
  return {
    id: r.id,
    uuid: r.uuid,
    type: r.type,
    state: r.state,
    amount: r.amount,
    currency: r.currency,
    stan: r.stan,
    stanDay: r.stan_day,
    transmittedAt: r.transmitted_at,
    maskedPan: r.masked_pan,
    last4: r.last4,
    panToken: r.pan_token,
    entryMode: r.entry_mode,
    authCode: r.auth_code,
    rrn: r.rrn,
    responseCode: r.response_code,
    declineCode: r.decline_code,
    originalId: r.original_id,
    batchNumber: r.batch_number,
    operator: r.operator,
    unreferenced: r.unreferenced === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * Runs inside the SQLite transaction that makes the change, so whatever it writes (an
 * outbox report, a queue row) commits or rolls back together with the state change.
 * It must be synchronous and must not do I/O outside the database.
 */
export type TransitionObserver = (change: {
  txn: Transaction;
  from: TxnState | null;
  to: TxnState;
  /** What the lifecycle says must commit with this change (queue a reversal, report a decline...). */
  effects: readonly LifecycleEffect[];
  detail: Record<string, unknown> | null;
}) => void;

/**
 * The journal: `transactions` holds each payment's current state, `transaction_events`
 * its append-only history. Every change is one SQLite transaction that writes both.
 */
export class Journal {
  private readonly observers: TransitionObserver[] = [];

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /** Registers an observer run inside every create/transition transaction. */
  onTransition(observer: TransitionObserver): void {
    this.observers.push(observer);
  }

  create(input: {
    type: TxnType;
    amount: number;
    currency: CurrencyCode;
    originalId?: number;
    operator?: string;
    unreferenced?: boolean;
  }): Transaction {
    return this.db
      .transaction(() => {
        const now = this.clock.now();
        const row = this.db
          .prepare<unknown[], Row>(
            `INSERT INTO transactions (uuid, type, state, amount, currency, original_id, batch_number, operator, unreferenced, created_at, updated_at)
           VALUES (?, ?, 'created', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          )
          .get(
            randomUUID(),
            input.type,
            input.amount,
            input.currency,
            input.originalId ?? null,
            currentBatch(this.db),
            input.operator ?? null,
            input.unreferenced ? 1 : 0,
            now,
            now,
          )!;
        const detail = { amount: input.amount, currency: input.currency };
        this.appendEvent(row.id, null, 'created', now, detail);
        const txn = fromRow(row);
        for (const o of this.observers) o({ txn, from: null, to: 'created', effects: [], detail });
        return txn;
      })
      .immediate();
  }

  /**
   * Moves a transaction to `to`, checking the lifecycle table and that it is still in the
   * state the caller believes (`expectFrom`), so two paths racing on one payment cannot
   * both win. Runs inside the caller's SQLite transaction if there is one.
   */
  transition(
    id: number,
    to: TxnState,
    patch: TxnPatch = {},
    detail: Record<string, unknown> | null = null,
    expectFrom?: TxnState | readonly TxnState[],
  ): Transaction {
    const run = () => {
      const current = this.get(id);
      const allowed = expectFrom === undefined ? undefined : Array.isArray(expectFrom) ? expectFrom : [expectFrom];
      if ((allowed && !allowed.includes(current.state)) || !canTransition(current.type, current.state, to)) {
        throw new InvalidTransitionError(id, current.state, to);
      }
      const now = this.clock.now();
      const sets = ['state = ?', 'updated_at = ?'];
      const values: unknown[] = [to, now];
      for (const [key, value] of Object.entries(patch) as [keyof TxnPatch, unknown][]) {
        sets.push(`${COLUMN[key]} = ?`);
        values.push(value ?? null);
      }
      const row = this.db
        .prepare<unknown[], Row>(`UPDATE transactions SET ${sets.join(', ')} WHERE id = ? RETURNING *`)
        .get(...values, id)!;
      this.appendEvent(id, current.state, to, now, detail);
      const txn = fromRow(row);
      const effects = effectsOf(current.type, current.state, to);
      for (const o of this.observers) o({ txn, from: current.state, to, effects, detail });
      return txn;
    };
    return this.db.inTransaction ? run() : this.db.transaction(run).immediate();
  }

  /**
   * Feeds `event` to the lifecycle reducer for the transaction's type and state and commits
   * the step it returns; an event the lifecycle does not allow there is refused. Runs inside
   * the caller's SQLite transaction if there is one.
   */
  apply(
    id: number,
    event: LifecycleEvent,
    patch: TxnPatch = {},
    detail: Record<string, unknown> | null = null,
    expectFrom?: TxnState | readonly TxnState[],
  ): Transaction {
    const run = () => {
      const current = this.get(id);
      const step = reduce(current.type, current.state, event);
      if (!step) throw new InvalidTransitionError(id, current.state, event.kind);
      return this.transition(id, step.next, patch, detail, expectFrom);
    };
    return this.db.inTransaction ? run() : this.db.transaction(run).immediate();
  }

  get(id: number): Transaction {
    const row = this.db.prepare<[number], Row>(`SELECT * FROM transactions WHERE id = ?`).get(id);
    if (!row) throw new TransactionNotFoundError(id);
    return fromRow(row);
  }

  findByStan(stan: string, stanDay?: string): Transaction | undefined {
    const row = stanDay
      ? this.db.prepare<[string, string], Row>(`SELECT * FROM transactions WHERE stan = ? AND stan_day = ?`).get(stan, stanDay)
      : this.db.prepare<[string], Row>(`SELECT * FROM transactions WHERE stan = ? ORDER BY id DESC LIMIT 1`).get(stan);
    return row ? fromRow(row) : undefined;
  }

  inState(state: TxnState): Transaction[] {
    return this.db.prepare<[string], Row>(`SELECT * FROM transactions WHERE state = ? ORDER BY id`).all(state).map(fromRow);
  }

  /** The newest transaction now in one of `states`, if any. */
  latestIn(states: readonly TxnState[]): Transaction | undefined {
    const row = this.db
      .prepare<unknown[], Row>(`SELECT * FROM transactions WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY id DESC LIMIT 1`)
      .get(...states);
    return row ? fromRow(row) : undefined;
  }

  recent(limit = 20): Transaction[] {
    return this.db.prepare<[number], Row>(`SELECT * FROM transactions ORDER BY id DESC LIMIT ?`).all(limit).map(fromRow);
  }

  events(id: number): TransactionEvent[] {
    return this.db
      .prepare<
        [number],
        { id: number; transaction_id: number; from_state: TxnState | null; to_state: TxnState; at: number; detail: string | null }
      >(`SELECT * FROM transaction_events WHERE transaction_id = ? ORDER BY id`)
      .all(id)
      .map((e) => ({
        id: e.id,
        transactionId: e.transaction_id,
        fromState: e.from_state,
        toState: e.to_state,
        at: e.at,
        detail: e.detail === null ? null : (JSON.parse(e.detail) as Record<string, unknown>),
      }));
  }

  private appendEvent(id: number, from: TxnState | null, to: TxnState, at: number, detail: Record<string, unknown> | null): void {
    this.db
      .prepare(`INSERT INTO transaction_events (transaction_id, from_state, to_state, at, detail) VALUES (?, ?, ?, ?, ?)`)
      .run(id, from, to, at, detail === null ? null : JSON.stringify(detail));
  }
}
