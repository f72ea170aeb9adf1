import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { PosError } from '../../drivers/base/errors.js';
import type { CurrencyCode } from '../core/money.js';
import type { TxnState, TxnType } from '../payments/lifecycle.js';
import type { Db } from './db.js';

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
  /** The host approved this sale with the cardholder's PIN (field 52): the slip says so and needs no signature. */
  pinVerified: boolean;
  /** The cashier's operator number (操作员号) signed in at the console; null from other entry points. */
  operator: string | null;
  /** A refund made without its original sale, on a supervisor's authority. */
  unreferenced: boolean;
  originalId: number | null;
  batchNumber: number;
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
    | 'pinVerified'
  >
>;

/** What the cashier's "find" may ask for; every field narrows the search. */
export interface TransactionQuery {
  amount?: number;
  from?: number;
  to?: number;
  last4?: string;
  authCode?: string;
  rrn?: string;
  limit?: number;
  /** Results to skip: the console pages through every match. */
  offset?: number;
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
  pinVerified: 'pin_verified',
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
  pin_verified: number;
  operator: string | null;
  unreferenced: number;
  original_id: number | null;
  batch_number: number;
  created_at: number;
  updated_at: number;
}

interface EventRow {
  id: number;
  transaction_id: number;
  from_state: TxnState | null;
  to_state: TxnState;
  at: number;
  detail: string | null;
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
    pinVerified: r.pin_verified === 1,
    operator: r.operator,
    unreferenced: r.unreferenced === 1,
    originalId: r.original_id,
    batchNumber: r.batch_number,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/**
 * The `transactions` and `transaction_events` tables: every statement the journal, the
 * engine, settlement, statistics and the console run on them. State lists arrive as
 * arguments (from the lifecycle's predicates); statements whose shape depends on them or
 * on a patch's columns are prepared on first use and kept by the database's one statement
 * cache (store/statements.ts).
 */
export class TransactionRepo {
  private readonly insertRow;
  private readonly insertEvent;
  private readonly byId;
  private readonly byStanDay;
  private readonly byStan;
  private readonly byState;
  private readonly newest;
  private readonly eventsOf;
  private readonly lastVoid;
  private readonly lastWithCard;
  private readonly batchRows;
  private readonly batchFirst;
  private readonly dropPanTokens;

  constructor(private readonly db: Db) {
    this.insertRow = db.prepare<unknown[], Row>(
      `INSERT INTO transactions (uuid, type, state, amount, currency, original_id, batch_number, operator, unreferenced, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    );
    this.insertEvent = db.prepare(
      `INSERT INTO transaction_events (transaction_id, from_state, to_state, at, detail) VALUES (?, ?, ?, ?, ?)`,
    );
    this.byId = db.prepare<[number], Row>(`SELECT * FROM transactions WHERE id = ?`);
    this.byStanDay = db.prepare<[string, string], Row>(`SELECT * FROM transactions WHERE stan = ? AND stan_day = ?`);
    this.byStan = db.prepare<[string], Row>(`SELECT * FROM transactions WHERE stan = ? ORDER BY id DESC LIMIT 1`);
    this.byState = db.prepare<[string], Row>(`SELECT * FROM transactions WHERE state = ? ORDER BY id`);
    this.newest = db.prepare<[number], Row>(`SELECT * FROM transactions ORDER BY id DESC LIMIT ?`);
    this.eventsOf = db.prepare<[number], EventRow>(`SELECT * FROM transaction_events WHERE transaction_id = ? ORDER BY id`);
    this.lastVoid = db.prepare<[number], Row>(
      `SELECT * FROM transactions WHERE type = 'void' AND original_id = ? ORDER BY id DESC LIMIT 1`,
    );
    this.lastWithCard = db.prepare<[], Row>(`SELECT * FROM transactions WHERE last4 IS NOT NULL ORDER BY id DESC LIMIT 1`);
    this.batchRows = db.prepare<[number], { type: TxnType; state: TxnState; currency: string; n: number; amount: number }>(
      `SELECT type, state, currency, count(*) AS n, coalesce(sum(amount), 0) AS amount
         FROM transactions WHERE batch_number = ? GROUP BY type, state, currency`,
    );
    this.batchFirst = db.prepare<[number], { at: number | null }>(`SELECT min(created_at) AS at FROM transactions WHERE batch_number = ?`);
    this.dropPanTokens = db.prepare<[number]>(
      `UPDATE transactions SET pan_token = NULL
        WHERE pan_token IS NOT NULL AND created_at < ?
          AND batch_number IN (SELECT number FROM batches WHERE state = 'closed')`,
    );
  }

  insert(input: {
    uuid: string;
    type: TxnType;
    state: TxnState;
    amount: number;
    currency: CurrencyCode;
    originalId: number | null;
    batchNumber: number;
    operator: string | null;
    unreferenced: boolean;
    now: number;
  }): Transaction {
    const { uuid, type, state, amount, currency, originalId, batchNumber, operator, unreferenced, now } = input;
    const row = this.insertRow.get(uuid, type, state, amount, currency, originalId, batchNumber, operator, unreferenced ? 1 : 0, now, now);
    return fromRow(row!);
  }

  /** Writes the new state with the patch's columns; the lifecycle check is the caller's. */
  update(id: number, state: TxnState, patch: TxnPatch, now: number): Transaction {
    const keys = (Object.keys(patch) as (keyof TxnPatch)[]).sort();
    const sql = `UPDATE transactions SET ${['state = ?', 'updated_at = ?', ...keys.map((k) => `${COLUMN[k]} = ?`)].join(', ')} WHERE id = ? RETURNING *`;
    // SQLite binds no booleans: a flag column stores 0/1.
    const values = keys.map((k) => {
      const v = patch[k];
      return typeof v === 'boolean' ? Number(v) : (v ?? null);
    });
    const row = this.shape<Row>(sql).get(state, now, ...values, id);
    if (!row) throw new TransactionNotFoundError(id);
    return fromRow(row);
  }

  appendEvent(id: number, from: TxnState | null, to: TxnState, at: number, detail: Record<string, unknown> | null): void {
    this.insertEvent.run(id, from, to, at, detail === null ? null : JSON.stringify(detail));
  }

  get(id: number): Transaction {
    const row = this.byId.get(id);
    if (!row) throw new TransactionNotFoundError(id);
    return fromRow(row);
  }

  findByStan(stan: string, stanDay?: string): Transaction | undefined {
    const row = stanDay ? this.byStanDay.get(stan, stanDay) : this.byStan.get(stan);
    return row ? fromRow(row) : undefined;
  }

  inState(state: TxnState): Transaction[] {
    return this.byState.all(state).map(fromRow);
  }

  /** The newest transaction now in one of `states`, if any. */
  latestIn(states: readonly TxnState[]): Transaction | undefined {
    const row = this.shape<Row>(`SELECT * FROM transactions WHERE state IN (${placeholders(states.length)}) ORDER BY id DESC LIMIT 1`).get(
      ...states,
    );
    return row ? fromRow(row) : undefined;
  }

  recent(limit = 20): Transaction[] {
    return this.newest.all(limit).map(fromRow);
  }

  events(id: number): TransactionEvent[] {
    return this.eventsOf.all(id).map((e) => ({
      id: e.id,
      transactionId: e.transaction_id,
      fromState: e.from_state,
      toState: e.to_state,
      at: e.at,
      detail: e.detail === null ? null : (JSON.parse(e.detail) as Record<string, unknown>),
    }));
  }

  /** The newest payment a card was read for. */
  lastCardPayment(): Transaction | undefined {
    const row = this.lastWithCard.get();
    return row ? fromRow(row) : undefined;
  }

  /** The cashier's search, newest first: every given field must match. */
  find(q: TransactionQuery): Transaction[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      where.push(sql);
      args.push(v);
    };
    if (q.amount !== undefined) add('amount = ?', q.amount);
    if (q.from !== undefined) add('created_at >= ?', q.from);
    if (q.to !== undefined) add('created_at <= ?', q.to);
    if (q.last4 !== undefined) add('last4 = ?', q.last4);
    if (q.authCode !== undefined) add('upper(trim(auth_code)) = ?', q.authCode.trim().toUpperCase());
    if (q.rrn !== undefined) add('rrn = ?', q.rrn);
    const sql = `SELECT * FROM transactions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ? OFFSET ?`;
    return this.shape<Row>(sql)
      .all(...args, q.limit ?? 20, q.offset ?? 0)
      .map(fromRow);
  }

  /** Refunds linked to `originalId` in one of `states`: their count and total. */
  refundsOf(originalId: number, states: readonly TxnState[]): { count: number; amount: number } {
    const row = this.shape<{ n: number; total: number | null }>(
      `SELECT count(*) AS n, sum(amount) AS total FROM transactions WHERE type = 'refund' AND original_id = ? AND state IN (${placeholders(states.length)})`,
    ).get(originalId, ...states)!;
    return { count: row.n, amount: row.total ?? 0 };
  }

  /** The newest void of a sale, if one was ever started. */
  lastVoidOf(originalId: number): Transaction | undefined {
    const row = this.lastVoid.get(originalId);
    return row ? fromRow(row) : undefined;
  }

  /** The batch's rows summed per type, state and currency (settlement's totals). */
  batchGroups(batchNumber: number): { type: TxnType; state: TxnState; currency: string; n: number; amount: number }[] {
    return this.batchRows.all(batchNumber);
  }

  /** When the batch's first payment was created, if it has one. */
  batchStartedAt(batchNumber: number): number | null {
    return this.batchFirst.get(batchNumber)?.at ?? null;
  }

  /** Payments of the batch in one of `states` touched at or after `since`. */
  countInBatch(batchNumber: number, states: readonly TxnState[], since: number): number {
    return this.shape<{ n: number }>(
      `SELECT count(*) AS n FROM transactions WHERE batch_number = ? AND state IN (${placeholders(states.length)}) AND updated_at >= ?`,
    ).get(batchNumber, ...states, since)!.n;
  }

  /** Entries into one of `to` in [from, to): each with the code the cashier saw. */
  arrivals(toStates: readonly TxnState[], from: number, to: number): { code: string; at: number }[] {
    return this.shape<{ code: string; at: number }>(
      `SELECT coalesce(t.decline_code, t.response_code, '') AS code, e.at AS at
         FROM transaction_events e JOIN transactions t ON t.id = e.transaction_id
        WHERE e.to_state IN (${placeholders(toStates.length)}) AND e.at >= ? AND e.at < ?`,
    ).all(...toStates, from, to);
  }

  /** State changes after `since` into one of `to`, from one of `from` when given (the alert monitors' rates). */
  countArrivals(since: number, to: readonly TxnState[], from?: readonly TxnState[]): number {
    const fromClause = from ? ` AND from_state IN (${placeholders(from.length)})` : '';
    return this.shape<{ n: number }>(
      `SELECT count(*) AS n FROM transaction_events WHERE at > ? AND to_state IN (${placeholders(to.length)})${fromClause}`,
    ).get(since, ...to, ...(from ?? []))!.n;
  }

  /**
   * Retention: every transaction and its history stay (the audit rules); rows of closed
   * batches created before `cutoff` lose their PAN token, which only the duplicate and
   * hot-list checks of recent payments need. Returns the rows changed.
   */
  purgeFinished(cutoff: number): number {
    return this.dropPanTokens.run(cutoff).changes;
  }

  /** The database's statement cache (store/statements.ts) keeps each shape prepared once. */
  private shape<R>(sql: string): Statement<unknown[], R> {
    return this.db.prepare<unknown[], R>(sql);
  }
}

/**
 * Every transaction of a database file, opened read-only (a tool beside a running
 * terminal, or on a copy): what reconcile compares with the host's ledger.
 */
export function readJournalFile(file: string): Pick<Transaction, 'id' | 'type' | 'state' | 'amount' | 'currency' | 'stan'>[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], Pick<Transaction, 'id' | 'type' | 'state' | 'amount' | 'currency' | 'stan'>>(
        'SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id',
      )
      .all();
  } finally {
    db.close();
  }
}
