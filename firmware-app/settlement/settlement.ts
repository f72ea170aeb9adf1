import { sleep, type Clock } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import { clearAlert, raiseAlert } from '../alerts/alerts.js';
import type { CurrencyCode } from '../core/money.js';
import type { IsoMessage } from '../host/iso8583/packager.js';
import {
  localDay,
  readAnswer,
  settlementRequest,
  transmissionDateTime,
  type SettlementTotals,
  type TerminalIdentity,
} from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import { currentBatch, nextBatch, nextStan } from '../store/counters.js';
import type { Db } from '../store/db.js';
import { TMS_EVENT } from '../upstream/events.js';
import { enqueueEvent } from '../upstream/outbox.js';
import { batchLabel, renderSettlementReport, type SettlementResult } from './report.js';
import { TXN_STATES, undecided } from '../payments/lifecycle.js';
import { batchTotals, hostTotals, unsettledCount, type BatchTotals } from './totals.js';

/** What settlement needs from the host link (`HostLink` is one). */
export interface HostPort {
  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage>;
}

/** A queue that can be pushed to empty itself now (reversals, store-and-forward). */
export interface DrainPort {
  drain(): Promise<{ remaining: number }>;
}

/** Where the report goes: the durable print queue, or the printer itself. */
export type ReportPort = (bytes: Buffer, batchNumber: number) => Promise<void>;

export interface SettlementSettings {
  identity: TerminalIdentity;
  merchantName: string;
  currency: CurrencyCode;
  widthMm: 58 | 80;
  /** How long to wait for sales of the closing batch still between card and answer. */
  quiesceTimeoutMs: number;
  responseTimeoutMs: number;
}

export interface SettlementDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  host: HostPort;
  reversals?: DrainPort;
  saf?: DrainPort;
  printReport: ReportPort;
  settings: SettlementSettings;
}

export type BatchState = 'open' | 'settling' | 'closed' | 'out_of_balance';

export interface Batch {
  number: number;
  state: BatchState;
  openedAt: number;
  closedAt: number | null;
  totals: SettlementTotals | null;
  responseCode: string | null;
}

export interface BatchOutcome {
  batchNumber: number;
  result: SettlementResult;
  responseCode: string;
  totals: SettlementTotals;
  reportPrinted: boolean;
  printError?: string;
}

export class SettlementError extends PosError {}

/** Settings key: the slot whose cut-over already happened, so a retry for it does not cut again. */
const CUT_SLOT_KEY = 'settlement.cutSlot';
const QUIESCE_POLL_MS = 500;

export const outOfBalanceAlertKey = (batchNumber: number) => `settlement-out-of-balance:${batchNumber}`;

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

function describeError(err: unknown): string {
  return isPosError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
}

/**
 * End-of-day settlement.
 *
 * The batch is cut over first: in one SQLite transaction the open batch becomes `settling`
 * and the batch counter moves on, so a sale started during settlement lands in the next
 * batch and the totals sent in the 0500 describe a set of payments that can no longer
 * grow. Then, for every batch still `settling` (oldest first, so a batch a failed night
 * left behind goes before today's): wait for its in-flight sales, drain reversals and
 * store-and-forward, refuse if the host's figures could still differ, send the 0500.
 * `00` closes the batch; `95` marks it out of balance, raises an alert and keeps it for
 * the technician; anything else (or no answer) leaves it `settling` for the next run.
 */
export class Settlement {
  constructor(private readonly deps: SettlementDeps) {}

  /** Runs settlement for `slotAt` (a schedule slot, or now for a manual run). */
  async settle(slotAt: number): Promise<BatchOutcome[]> {
    this.cutOver(slotAt);
    const outcomes: BatchOutcome[] = [];
    for (const batch of this.batches('settling')) outcomes.push(await this.settleBatch(batch.number));
    const unbalanced = outcomes.filter((o) => o.result === 'out_of_balance');
    if (unbalanced.length > 0) {
      throw new SettlementError(
        'SETTLEMENT_OUT_OF_BALANCE',
        `batch ${unbalanced.map((o) => batchLabel(o.batchNumber)).join(', ')} out of balance with the host; kept open for the technician`,
        { outcomes },
      );
    }
    return outcomes;
  }

  /** The batch new payments go into, with its row created on first sight. */
  openBatch(): Batch {
    const { db, clock } = this.deps;
    return db.transaction(() => {
      const number = currentBatch(db);
      this.ensureRow(number, clock.now());
      return this.batch(number)!;
    })();
  }

  batch(number: number): Batch | undefined {
    const row = this.deps.db.prepare<[number], Row>(`SELECT * FROM batches WHERE number = ?`).get(number);
    return row ? fromRow(row) : undefined;
  }

  batches(state?: BatchState): Batch[] {
    const rows = state
      ? this.deps.db.prepare<[string], Row>(`SELECT * FROM batches WHERE state = ? ORDER BY number`).all(state)
      : this.deps.db.prepare<[], Row>(`SELECT * FROM batches ORDER BY number`).all();
    return rows.map(fromRow);
  }

  totals(batchNumber: number): BatchTotals {
    return batchTotals(this.deps.db, batchNumber);
  }

  /**
   * The technician has reconciled an out-of-balance batch with the acquirer: it is closed
   * with the host's figures, the alert cleared, and the decision kept in the audit log.
   */
  resolveOutOfBalance(batchNumber: number, actor: string): Batch {
    const { db, clock } = this.deps;
    return db
      .transaction(() => {
        const b = this.batch(batchNumber);
        if (!b || b.state !== 'out_of_balance') {
          throw new SettlementError('SETTLEMENT_NOT_OUT_OF_BALANCE', `batch ${batchLabel(batchNumber)} is not out of balance`, {
            batchNumber,
            state: b?.state,
          });
        }
        const now = clock.now();
        db.prepare(`UPDATE batches SET state = 'closed', closed_at = ? WHERE number = ?`).run(now, batchNumber);
        clearAlert(db, clock, outOfBalanceAlertKey(batchNumber));
        db.prepare(
          `INSERT INTO audit_log (at, actor, action, detail, outcome) VALUES (?, ?, 'settlement.resolve-out-of-balance', ?, 'ok')`,
        ).run(now, actor, JSON.stringify({ batchNumber }));
        return this.batch(batchNumber)!;
      })
      .immediate();
  }

  private ensureRow(number: number, now: number): void {
    const first = this.deps.db
      .prepare<[number], { at: number | null }>(`SELECT min(created_at) AS at FROM transactions WHERE batch_number = ?`)
      .get(number);
    this.deps.db
      .prepare(`INSERT INTO batches (number, state, opened_at) VALUES (?, 'open', ?) ON CONFLICT(number) DO NOTHING`)
      .run(number, Math.min(first?.at ?? now, now));
  }

  private cutOver(slotAt: number): void {
    const { db, clock, logger } = this.deps;
    db.transaction(() => {
      const cut = db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`).get(CUT_SLOT_KEY);
      if (cut && Number(cut.value) >= slotAt) return;
      const now = clock.now();
      const number = currentBatch(db);
      this.ensureRow(number, now);
      db.prepare(`UPDATE batches SET state = 'settling' WHERE number = ? AND state = 'open'`).run(number);
      const next = nextBatch(db);
      db.prepare(
        `INSERT INTO batches (number, state, opened_at) VALUES (?, 'open', ?)
         ON CONFLICT(number) DO UPDATE SET state = 'open', opened_at = excluded.opened_at, closed_at = NULL, totals = NULL, response_code = NULL`,
      ).run(next, now);
      db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(
        CUT_SLOT_KEY,
        String(slotAt),
      );
      logger.info({ closing: number, next }, 'batch cut over');
    }).immediate();
  }

  private async settleBatch(number: number): Promise<BatchOutcome> {
    const { db, clock, logger, settings } = this.deps;
    const log = logger.child('settlement');
    await this.quiesce(number);
    let totals = batchTotals(db, number);
    const drainErrors: string[] = [];
    if (totals.unsettled.reversalsPending > 0) await this.drain('reversals', this.deps.reversals, drainErrors);
    if (totals.unsettled.offlinePending > 0) await this.drain('store-and-forward', this.deps.saf, drainErrors);
    totals = batchTotals(db, number);
    if (unsettledCount(totals) > 0) {
      const u = totals.unsettled;
      const why = [
        u.inFlight && `${u.inFlight} payment(s) still waiting for the host`,
        u.reversalsPending && `${u.reversalsPending} reversal(s) not yet acknowledged`,
        u.offlinePending && `${u.offlinePending} offline sale(s) not yet forwarded`,
        u.voidsPending && `${u.voidsPending} void(s) not yet answered`,
      ].filter(Boolean);
      throw new SettlementError('SETTLEMENT_BLOCKED', `batch ${batchLabel(number)} cannot be settled yet: ${why.join(', ')}`, {
        batchNumber: number,
        ...u,
        drainErrors,
      });
    }
    const wire = hostTotals(totals, settings.currency);
    const at = new Date(clock.now());
    const stan = db
      .transaction(() => {
        const s = nextStan(db);
        db.prepare(`UPDATE batches SET totals = ? WHERE number = ?`).run(JSON.stringify(wire), number);
        return s;
      })
      .immediate();
    log.info({ batch: number, stan, ...wire }, 'sending 0500');
    const response = await this.deps.host.request(
      settlementRequest(settings.identity, { stan, at, batchNumber: number, totals: wire }),
      settings.responseTimeoutMs,
    );
    const code = readAnswer(response).responseCode;
    if (code !== '00' && code !== '95') {
      db.prepare(`UPDATE batches SET response_code = ? WHERE number = ?`).run(code, number);
      throw new SettlementError(
        'SETTLEMENT_REJECTED',
        `the host did not close batch ${batchLabel(number)} (response ${code}); it is sent again on the next run`,
        {
          batchNumber: number,
          responseCode: code,
        },
      );
    }
    const result: SettlementResult = code === '00' ? 'in_balance' : 'out_of_balance';
    db.transaction(() => {
      const now = clock.now();
      if (result === 'in_balance') {
        db.prepare(`UPDATE batches SET state = 'closed', closed_at = ?, response_code = ? WHERE number = ?`).run(now, code, number);
      } else {
        db.prepare(`UPDATE batches SET state = 'out_of_balance', response_code = ? WHERE number = ?`).run(code, number);
        raiseAlert(db, clock, {
          key: outOfBalanceAlertKey(number),
          severity: 'critical',
          message: `Settlement of batch ${batchLabel(number)} is out of balance: the host's totals differ from the terminal's. Reconcile with the acquirer.`,
          detail: { batchNumber: number, responseCode: code, ...wire },
        });
      }
      enqueueEvent(db, clock, {
        type: TMS_EVENT.settlementResult,
        eventId: `settlement:${settings.identity.terminalId}:${number}:${stan}:${localDay(at)}`,
        payload: {
          batchNumber: number,
          result,
          responseCode: code,
          currency: settings.currency,
          ...wire,
          transmittedAt: transmissionDateTime(at),
        },
      });
    }).immediate();
    log.info({ batch: number, result, responseCode: code }, 'settlement answered');
    const outcome: BatchOutcome = { batchNumber: number, result, responseCode: code, totals: wire, reportPrinted: false };
    try {
      const bytes = renderSettlementReport(
        {
          merchantName: settings.merchantName,
          terminalId: settings.identity.terminalId,
          merchantId: settings.identity.merchantId,
          batchNumber: number,
          at,
          totals,
          result,
          responseCode: code,
        },
        settings.widthMm,
      );
      await this.deps.printReport(bytes, number);
      outcome.reportPrinted = true;
    } catch (err) {
      outcome.printError = describeError(err);
      log.warn({ err, batch: number }, 'settlement report not printed');
    }
    return outcome;
  }

  /**
   * Waits for the batch's payments still between card and answer; they finish into this
   * batch. Rows untouched for longer than the wait itself were left by a crash (recovery
   * turns a sent one into a reversal) and are not waited for.
   */
  private async quiesce(number: number): Promise<void> {
    const { db, clock, settings } = this.deps;
    const undecidedStates = TXN_STATES.filter(undecided);
    const busy = db.prepare<unknown[], { n: number }>(
      `SELECT count(*) AS n FROM transactions
        WHERE batch_number = ? AND state IN (${undecidedStates.map(() => '?').join(', ')}) AND updated_at >= ?`,
    );
    const deadline = clock.now() + settings.quiesceTimeoutMs;
    while (busy.get(number, ...undecidedStates, clock.now() - settings.quiesceTimeoutMs)!.n > 0 && clock.now() < deadline)
      await sleep(clock, QUIESCE_POLL_MS);
  }

  private async drain(name: string, port: DrainPort | undefined, errors: string[]): Promise<void> {
    if (!port) {
      errors.push(`${name}: no queue to drain`);
      return;
    }
    try {
      const { remaining } = await port.drain();
      if (remaining > 0) errors.push(`${name}: ${remaining} left after draining`);
    } catch (err) {
      errors.push(`${name}: ${describeError(err)}`);
    }
  }
}
