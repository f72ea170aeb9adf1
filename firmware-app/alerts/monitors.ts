import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import type { Logger } from '../logging/logger.js';
import type { Journal } from '../payments/journal.js';
import { inFlight, isCounterOutcome, isDecline, needsReversal, TXN_STATES, type TxnState } from '../payments/lifecycle.js';
import type { Alert } from '../store/alert-repo.js';
import type { Store } from '../store/store.js';
import type { ReportUpstream } from '../upstream/events.js';
import { clearAndReport, raiseAndReport, type AlertReporting } from './upstream.js';

export interface MonitorSettings {
  /** The sliding window the rates are computed over. */
  windowMs: number;
  /** Below this many outcomes in the window a rate means nothing: no raise, and an open alert clears. */
  minSamples: number;
  declineRatePercent: number;
  declineClearPercent: number;
  timeoutRatePercent: number;
  timeoutClearPercent: number;
  /** Oldest queued offline payment older than this raises an alert (before offline.maxAgeMs expires it). */
  offlineQueueAgeMs: number;
  evaluateEveryMs: number;
}

export const ALERT_KEY = {
  declineRate: 'declines.rate',
  timeoutRate: 'host.timeout-rate',
  offlineQueueAge: 'saf.queue-age',
} as const;

export interface Reading {
  key: string;
  /** Percent for the rates, milliseconds for the queue age; null when there is nothing to measure. */
  value: number | null;
  samples: number;
  threshold: number;
}

export type Decision = 'raise' | 'clear' | 'keep';

/**
 * How long after a sale outcome the monitors look: long enough that the slip's status round
 * trip and first bytes go before the counts, short enough that the alert follows the sale.
 */
export const EVALUATE_AFTER_OUTCOME_MS = 50;

/** Hysteresis: raise over `raiseAt`, clear only below `clearBelow`, so a rate hovering at the threshold does not flap. */
export function decide(open: boolean, value: number | null, raiseAt: number, clearBelow: number): Decision {
  if (!open) return value !== null && value > raiseAt ? 'raise' : 'keep';
  return value === null || value < clearBelow ? 'clear' : 'keep';
}

/** Sales that ended (approved, declined, timed out, approved offline) in the window; a cancel is no outcome. */
const OUTCOMES: readonly TxnState[] = TXN_STATES.filter(isCounterOutcome);
const DECLINES: readonly TxnState[] = OUTCOMES.filter(isDecline);
/** Out of the requests that left (an outcome reached from in flight), the unanswered ones: the timeout rate. */
const TIMEOUTS: readonly TxnState[] = TXN_STATES.filter(needsReversal);
const SENT: readonly TxnState[] = TXN_STATES.filter(inFlight);

const percent = (part: number, whole: number) => Math.round((part * 1000) / whole) / 10;

/**
 * Watches the decline rate, the host timeout rate and the age of the offline queue, each
 * read from the journal over a sliding window (so a restart does not reset it). Crossing a
 * threshold raises an alert locally and upstream; going back to normal clears it.
 * Evaluated after every sale outcome and on a timer, so a window that slides past the
 * bad minutes clears the alert with no new sale.
 */
export class AlertMonitors {
  private timer: TimerHandle | undefined;
  /** An evaluation asked for by an outcome, run once its transaction has committed. */
  private soon: TimerHandle | undefined;
  private readonly log: Logger;
  private readonly reporting: AlertReporting;

  constructor(
    private readonly store: Store,
    private readonly settings: MonitorSettings,
    private readonly deps: { clock: Clock; logger: Logger; report: ReportUpstream; onUpstreamEvent?: () => void },
  ) {
    this.log = deps.logger.child('alerts');
    this.reporting = { store, clock: deps.clock, report: deps.report };
  }

  /**
   * Evaluates after every sale outcome, `EVALUATE_AFTER_OUTCOME_MS` after its transaction has
   * committed: the counts over the window cost more than the rest of an approval's transaction,
   * and by then the cashier has the result and the slip has started printing. The readings come
   * from the journal, so an evaluation a moment later sees the same outcomes, several outcomes
   * in that moment are evaluated once, and an outcome whose evaluation a crash or a stop
   * prevented is evaluated at the next start (`start`); an alert already open is never raised
   * again. A monitor failure never undoes a payment: it is only logged.
   */
  attach(journal: Journal): void {
    journal.onTransition(({ to }) => {
      if (OUTCOMES.includes(to)) this.evaluateSoon();
    });
  }

  start(): void {
    this.stop();
    const tick = () => {
      this.evaluateLogged();
      this.timer = this.deps.clock.setTimeout(tick, this.settings.evaluateEveryMs);
      this.timer.unref?.();
    };
    tick();
  }

  stop(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.soon) this.deps.clock.clearTimeout(this.soon);
    this.soon = undefined;
  }

  private evaluateSoon(): void {
    if (this.soon) return;
    this.soon = this.deps.clock.setTimeout(() => {
      this.soon = undefined;
      this.evaluateLogged();
    }, EVALUATE_AFTER_OUTCOME_MS);
    this.soon.unref?.();
  }

  private evaluateLogged(): void {
    try {
      this.evaluate();
    } catch (err) {
      this.log.error({ err }, 'alert evaluation failed');
    }
  }

  readings(): Reading[] {
    const s = this.settings;
    const since = this.deps.clock.now() - s.windowMs;
    const txns = this.store.transactions;
    const outcomes = txns.countArrivals(since, OUTCOMES);
    const declines = txns.countArrivals(since, DECLINES);
    const answeredOrNot = txns.countArrivals(since, OUTCOMES, SENT);
    const timeouts = txns.countArrivals(since, TIMEOUTS, SENT);
    const oldest = this.store.queueDepths().saf.oldestAt;
    return [
      {
        key: ALERT_KEY.declineRate,
        value: outcomes >= s.minSamples ? percent(declines, outcomes) : null,
        samples: outcomes,
        threshold: s.declineRatePercent,
      },
      {
        key: ALERT_KEY.timeoutRate,
        value: answeredOrNot >= s.minSamples ? percent(timeouts, answeredOrNot) : null,
        samples: answeredOrNot,
        threshold: s.timeoutRatePercent,
      },
      {
        key: ALERT_KEY.offlineQueueAge,
        value: oldest === null ? null : this.deps.clock.now() - oldest,
        samples: oldest === null ? 0 : 1,
        threshold: s.offlineQueueAgeMs,
      },
    ];
  }

  /** Raises and clears as the readings say; returns what changed. */
  evaluate(): { raised: Alert[]; cleared: Alert[] } {
    const s = this.settings;
    const limits: Record<string, { clearBelow: number; message: (r: Reading) => string }> = {
      [ALERT_KEY.declineRate]: {
        clearBelow: s.declineClearPercent,
        message: (r) =>
          `decline rate ${r.value}% over the last ${minutes(s.windowMs)} (${r.samples} sales), threshold ${s.declineRatePercent}%`,
      },
      [ALERT_KEY.timeoutRate]: {
        clearBelow: s.timeoutClearPercent,
        message: (r) =>
          `host timeout rate ${r.value}% over the last ${minutes(s.windowMs)} (${r.samples} requests), threshold ${s.timeoutRatePercent}%`,
      },
      [ALERT_KEY.offlineQueueAge]: {
        clearBelow: s.offlineQueueAgeMs,
        message: (r) => `oldest offline payment waiting ${minutes(r.value ?? 0)} for the host, threshold ${minutes(s.offlineQueueAgeMs)}`,
      },
    };
    const raised: Alert[] = [];
    const cleared: Alert[] = [];
    this.store.tx(() => {
      const open = new Set(this.store.alerts.open().map((a) => a.key));
      for (const r of this.readings()) {
        const limit = limits[r.key]!;
        const decision = decide(open.has(r.key), r.value, r.threshold, limit.clearBelow);
        if (decision === 'raise') {
          const a = raiseAndReport(this.reporting, {
            key: r.key,
            severity: 'warning',
            message: limit.message(r),
            detail: { value: r.value, samples: r.samples, threshold: r.threshold, windowMs: s.windowMs },
          });
          if (a) raised.push(a);
        } else if (decision === 'clear') {
          const a = clearAndReport(this.reporting, r.key);
          if (a) cleared.push(a);
        }
      }
    });
    for (const a of raised) this.log.warn({ key: a.key, detail: a.detail }, a.message);
    for (const a of cleared) this.log.info({ key: a.key }, 'alert cleared');
    if (raised.length + cleared.length > 0) this.deps.onUpstreamEvent?.();
    return { raised, cleared };
  }
}

function minutes(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}
