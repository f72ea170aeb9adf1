import type { SettlementTotals } from '../host/messages.js';
import type { Db } from './db.js';

export type BatchState = 'open' | 'settling' | 'closed' | 'out_of_balance';

export interface Batch {
  number: number;
  state: BatchState;
  openedAt: number;
  closedAt: number | null;
  totals: SettlementTotals | null;
  responseCode: string | null;
}

interface Row {
  number: number;
  state: BatchState;
  opened_at: number;
  closed_at: number | null;
  totals: string | null;
  response_code: string | null;
}

const fromRow = (r: Row): Batch => ({
  number: r.number,
  state: r.state,
  openedAt: r.opened_at,
  closedAt: r.closed_at,
  totals: r.totals === null ? null : (JSON.parse(r.totals) as SettlementTotals),
  responseCode: r.response_code,
});

/** The `batches` table: one row per batch number, its settlement state and the totals sent. */
export class BatchRepo {
  private readonly one;
  private readonly all;
  private readonly allIn;
  private readonly open;
  private readonly reopen;
  private readonly toSettling;
  private readonly toClosed;
  private readonly toOutOfBalance;
  private readonly sentTotals;
  private readonly answered;

  constructor(db: Db) {
    this.one = db.prepare<[number], Row>(`SELECT * FROM batches WHERE number = ?`);
    this.all = db.prepare<[], Row>(`SELECT * FROM batches ORDER BY number`);
    this.allIn = db.prepare<[string], Row>(`SELECT * FROM batches WHERE state = ? ORDER BY number`);
    this.open = db.prepare<[number, number]>(
      `INSERT INTO batches (number, state, opened_at) VALUES (?, 'open', ?) ON CONFLICT(number) DO NOTHING`,
    );
    this.reopen = db.prepare<[number, number]>(
      `INSERT INTO batches (number, state, opened_at) VALUES (?, 'open', ?)
       ON CONFLICT(number) DO UPDATE SET state = 'open', opened_at = excluded.opened_at, closed_at = NULL, totals = NULL, response_code = NULL`,
    );
    this.toSettling = db.prepare<[number]>(`UPDATE batches SET state = 'settling' WHERE number = ? AND state = 'open'`);
    this.toClosed = db.prepare<[number, string | null, number]>(
      `UPDATE batches SET state = 'closed', closed_at = ?, response_code = coalesce(?, response_code) WHERE number = ?`,
    );
    this.toOutOfBalance = db.prepare<[string, number]>(`UPDATE batches SET state = 'out_of_balance', response_code = ? WHERE number = ?`);
    this.sentTotals = db.prepare<[string, number]>(`UPDATE batches SET totals = ? WHERE number = ?`);
    this.answered = db.prepare<[string, number]>(`UPDATE batches SET response_code = ? WHERE number = ?`);
  }

  get(number: number): Batch | undefined {
    const row = this.one.get(number);
    return row ? fromRow(row) : undefined;
  }

  list(state?: BatchState): Batch[] {
    return (state ? this.allIn.all(state) : this.all.all()).map(fromRow);
  }

  /** Creates the batch's row as open unless it exists. */
  ensureOpen(number: number, openedAt: number): void {
    this.open.run(number, openedAt);
  }

  /** The next batch after a cut-over: open from now, whatever an old row of that number said. */
  openFresh(number: number, openedAt: number): void {
    this.reopen.run(number, openedAt);
  }

  markSettling(number: number): void {
    this.toSettling.run(number);
  }

  /** Closed; `responseCode` null keeps the one recorded (a technician's resolution). */
  markClosed(number: number, at: number, responseCode: string | null): void {
    this.toClosed.run(at, responseCode, number);
  }

  markOutOfBalance(number: number, responseCode: string): void {
    this.toOutOfBalance.run(responseCode, number);
  }

  recordTotals(number: number, totals: SettlementTotals): void {
    this.sentTotals.run(JSON.stringify(totals), number);
  }

  recordAnswer(number: number, responseCode: string): void {
    this.answered.run(responseCode, number);
  }
}
