import { sleep, type Clock } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
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
import type { Batch, BatchState } from '../store/batch-repo.js';
import type { Store } from '../store/store.js';
import { TMS_EVENT, type ReportUpstream } from '../upstream/events.js';
import { batchLabel, type SettlementResult } from './batch-label.js';
import { TXN_STATES, undecided } from '../payments/lifecycle.js';
import { batchTotals, hostTotals, unsettledCount, type BatchTotals } from './totals.js';
import { onFirstUse } from '../load-on-demand.js';

/**
 * The report's layout and encoder, loaded when a batch closes rather than at every start. A
 * failed load leaves the report unprinted, as a printer fault does; the batch is closed.
 */
const settlementReport = onFirstUse('the settlement report', () => import('./report.js'));

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
  store: Store;
  /** Writes the settlement result into the outbox, in the transaction that records it. */
  report: ReportUpstream;
  clock: Clock;
  logger: Logger;
  host: HostPort;
  reversals?: DrainPort;
  saf?: DrainPort;
  printReport: ReportPort;
  settings: SettlementSettings;
}

export type { Batch, BatchState } from '../store/batch-repo.js';

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
    const { store, clock } = this.deps;
    return store.tx(() => {
      const number = store.currentBatch();
      this.ensureRow(number, clock.now());
      return this.batch(number)!;
    });
  }

  batch(number: number): Batch | undefined {
    return this.deps.store.batches.get(number);
  }

  batches(state?: BatchState): Batch[] {
    return this.deps.store.batches.list(state);
  }

  totals(batchNumber: number): BatchTotals {
    return batchTotals(this.deps.store.transactions, batchNumber);
  }

  /**
   * The technician has reconciled an out-of-balance batch with the acquirer: it is closed
   * with the host's figures, the alert cleared, and the decision kept in the audit log.
   */
  resolveOutOfBalance(batchNumber: number, actor: string): Batch {
    const { store, clock } = this.deps;
    return store.tx(() => {
      const b = this.batch(batchNumber);
      if (!b || b.state !== 'out_of_balance') {
        throw new SettlementError('SETTLEMENT_NOT_OUT_OF_BALANCE', `batch ${batchLabel(batchNumber)} is not out of balance`, {
          batchNumber,
          state: b?.state,
        });
      }
      const now = clock.now();
      store.batches.markClosed(batchNumber, now, null);
      store.alerts.clear(outOfBalanceAlertKey(batchNumber), now);
      store.audit.append({ at: now, actor, action: 'settlement.resolve-out-of-balance', detail: { batchNumber }, outcome: 'ok' });
      return this.batch(batchNumber)!;
    });
  }

  private ensureRow(number: number, now: number): void {
    const { store } = this.deps;
    store.batches.ensureOpen(number, Math.min(store.transactions.batchStartedAt(number) ?? now, now));
  }

  private cutOver(slotAt: number): void {
    const { store, clock, logger } = this.deps;
    store.tx(() => {
      const cut = store.settings.get(CUT_SLOT_KEY);
      if (cut !== undefined && Number(cut) >= slotAt) return;
      const now = clock.now();
      const number = store.currentBatch();
      this.ensureRow(number, now);
      store.batches.markSettling(number);
      const next = store.nextBatch();
      store.batches.openFresh(next, now);
      store.settings.set(CUT_SLOT_KEY, String(slotAt));
      logger.info({ closing: number, next }, 'batch cut over');
    });
  }

  private async settleBatch(number: number): Promise<BatchOutcome> {
    const { store, clock, logger, settings } = this.deps;
    const log = logger.child('settlement');
    await this.quiesce(number);
    let totals = this.totals(number);
    const drainErrors: string[] = [];
    if (totals.unsettled.reversalsPending > 0) await this.drain('reversals', this.deps.reversals, drainErrors);
    if (totals.unsettled.offlinePending > 0) await this.drain('store-and-forward', this.deps.saf, drainErrors);
    totals = this.totals(number);
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
    const stan = store.tx(() => {
      const s = store.nextStan();
      store.batches.recordTotals(number, wire);
      return s;
    });
    log.info({ batch: number, stan, ...wire }, 'sending 0500');
    const response = await this.deps.host.request(
      settlementRequest(settings.identity, { stan, at, batchNumber: number, totals: wire }),
      settings.responseTimeoutMs,
    );
    const code = readAnswer(response).responseCode;
    if (code !== '00' && code !== '95') {
      store.batches.recordAnswer(number, code);
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
    store.tx(() => {
      const now = clock.now();
      if (result === 'in_balance') {
        store.batches.markClosed(number, now, code);
      } else {
        store.batches.markOutOfBalance(number, code);
        store.alerts.raise(
          {
            key: outOfBalanceAlertKey(number),
            severity: 'critical',
            message: `Settlement of batch ${batchLabel(number)} is out of balance: the host's totals differ from the terminal's. Reconcile with the acquirer.`,
            detail: { batchNumber: number, responseCode: code, ...wire },
          },
          now,
        );
      }
      this.deps.report({
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
    });
    log.info({ batch: number, result, responseCode: code }, 'settlement answered');
    const outcome: BatchOutcome = { batchNumber: number, result, responseCode: code, totals: wire, reportPrinted: false };
    try {
      const { renderSettlementReport } = await settlementReport();
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
    const { store, clock, settings } = this.deps;
    const undecidedStates = TXN_STATES.filter(undecided);
    const busy = () => store.transactions.countInBatch(number, undecidedStates, clock.now() - settings.quiesceTimeoutMs) > 0;
    const deadline = clock.now() + settings.quiesceTimeoutMs;
    while (busy() && clock.now() < deadline) await sleep(clock, QUIESCE_POLL_MS);
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
