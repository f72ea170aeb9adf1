import { randomUUID } from 'node:crypto';
import type { Clock } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import type { CurrencyCode } from '../core/money.js';
import type { Store } from '../store/store.js';
import type { Transaction, TransactionEvent, TxnPatch } from '../store/transaction-repo.js';
import {
  canTransition,
  effectsOf,
  INITIAL_STATE,
  reduce,
  type LifecycleEffect,
  type LifecycleEvent,
  type TxnState,
  type TxnType,
} from './lifecycle.js';

export type { Transaction, TransactionEvent, TxnPatch } from '../store/transaction-repo.js';
export { TransactionNotFoundError } from '../store/transaction-repo.js';

export class InvalidTransitionError extends PosError {
  constructor(id: number, from: string, to: string) {
    super('TXN_INVALID_TRANSITION', `transaction ${id} cannot go from ${from} to ${to}`, { id, from, to });
  }
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
 * The journal: the lifecycle-aware service over the transaction repository. Each change is
 * checked against the reducer and written (current state and its history row) in one
 * `store.tx`, with the transition observers running inside it.
 */
export class Journal {
  private readonly observers: TransitionObserver[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Registers an observer run inside every create/transition transaction. */
  onTransition(observer: TransitionObserver): void {
    this.observers.push(observer);
  }

  create(
    input: {
      type: TxnType;
      amount: number;
      currency: CurrencyCode;
      originalId?: number;
      operator?: string;
      unreferenced?: boolean;
    },
    options: { flush?: boolean } = {},
  ): Transaction {
    const { store } = this;
    const run = <T>(fn: () => T): T => (options.flush === false ? store.txUnflushed(fn) : store.tx(fn));
    return run(() => {
      const now = this.clock.now();
      const txn = store.transactions.insert({
        uuid: randomUUID(),
        type: input.type,
        state: INITIAL_STATE,
        amount: input.amount,
        currency: input.currency,
        originalId: input.originalId ?? null,
        batchNumber: store.currentBatch(),
        operator: input.operator ?? null,
        unreferenced: input.unreferenced ?? false,
        now,
      });
      const detail = { amount: input.amount, currency: input.currency };
      store.transactions.appendEvent(txn.id, null, txn.state, now, detail);
      for (const o of this.observers) o({ txn, from: null, to: txn.state, effects: [], detail });
      return txn;
    });
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
    return this.store.tx(() => this.move(this.get(id), to, patch, detail, expectFrom));
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
    return this.store.tx(() => {
      const current = this.get(id);
      const step = reduce(current.type, current.state, event);
      if (!step) throw new InvalidTransitionError(id, current.state, event.kind);
      return this.move(current, step.next, patch, detail, expectFrom);
    });
  }

  /** The checked change from the row as read in this same transaction. */
  private move(
    current: Transaction,
    to: TxnState,
    patch: TxnPatch,
    detail: Record<string, unknown> | null,
    expectFrom: TxnState | readonly TxnState[] | undefined,
  ): Transaction {
    const { id } = current;
    const allowed = expectFrom === undefined ? undefined : Array.isArray(expectFrom) ? expectFrom : [expectFrom];
    if ((allowed && !allowed.includes(current.state)) || !canTransition(current.type, current.state, to)) {
      throw new InvalidTransitionError(id, current.state, to);
    }
    const now = this.clock.now();
    const txn = this.store.transactions.update(id, to, patch, now);
    this.store.transactions.appendEvent(id, current.state, to, now, detail);
    const effects = effectsOf(current.type, current.state, to);
    for (const o of this.observers) o({ txn, from: current.state, to, effects, detail });
    return txn;
  }

  get(id: number): Transaction {
    return this.store.transactions.get(id);
  }

  findByStan(stan: string, stanDay?: string): Transaction | undefined {
    return this.store.transactions.findByStan(stan, stanDay);
  }

  inState(state: TxnState): Transaction[] {
    return this.store.transactions.inState(state);
  }

  /** The newest transaction now in one of `states`, if any. */
  latestIn(states: readonly TxnState[]): Transaction | undefined {
    return this.store.transactions.latestIn(states);
  }

  recent(limit = 20): Transaction[] {
    return this.store.transactions.recent(limit);
  }

  events(id: number): TransactionEvent[] {
    return this.store.transactions.events(id);
  }
}
