import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { isPosError } from '../../drivers/base/errors.js';
import { raiseAlert } from '../alerts/alerts.js';
import { formatAmount } from '../core/money.js';
import { explain } from '../declines/catalog.js';
import { declineEventId, declinePayload } from '../declines/reporter.js';
import { HostProtocolError, HostTimeoutError, HostUnreachableError } from '../host/errors.js';
import type { IsoMessage } from '../host/iso8583/packager.js';
import type { LinkState } from '../host/link.js';
import { adviceRequest, readAnswer, type TerminalIdentity } from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import type { Journal } from '../payments/journal.js';
import type { Db } from '../store/db.js';
import { TMS_EVENT } from '../upstream/events.js';
import { backoffDelay } from '../core/backoff.js';
import { enqueueEvent } from '../upstream/outbox.js';
import { dueSafItems, nextSafDeadline, safItemsQueuedBefore, safQueueState, type SafItem, type SafQueueState } from './queue.js';

/** The part of the host link the forwarder uses. */
export interface AdviceChannel {
  readonly state: LinkState;
  /** Connected and signed on: advices wait for it. */
  readonly ready: boolean;
  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage>;
  on(event: 'state', listener: (state: LinkState) => void): unknown;
  off(event: 'state', listener: (state: LinkState) => void): unknown;
}

export interface SafSettings {
  /** Advices in flight at once. 1 keeps strict queue order on the wire. */
  window: number;
  responseTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Timeouts after which the merchant is alerted; the advice keeps being retried. */
  maxAttempts: number;
  /** An advice not accepted within this age after the sale expires (offline.maxAgeMs). */
  maxAgeMs: number;
}

/** Host answers meaning "temporary trouble, send it again later"; they never count as attempts. */
export const SAF_RETRY_CODES: ReadonlySet<string> = new Set(['91', '96']);

/**
 * Sends every offline approval to the host as an advice (0220; repeats are 0221 with the
 * same STAN, so the host, which keys advices on terminal id + STAN, never posts one twice),
 * in queue order with a bounded window in flight. Each transmission is counted in SQLite
 * before it leaves, so after a crash the next one is a 0221. It drains as soon as the
 * link comes back, whenever a retry comes due, and whenever `drain()` is called.
 */
export class SafForwarder {
  private readonly inFlight = new Map<number, Promise<void>>();
  private pumping: Promise<void> | undefined;
  private wakeTimer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private readonly log: Logger;
  private readonly onLinkState = (state: LinkState): void => {
    if (state === 'online') this.kick();
  };

  constructor(
    private readonly deps: {
      db: Db;
      journal: Journal;
      link: AdviceChannel;
      clock: Clock;
      random?: () => number;
      logger: Logger;
      identity: TerminalIdentity;
      settings: SafSettings;
    },
  ) {
    this.log = deps.logger.child('saf');
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.deps.link.on('state', this.onLinkState);
    this.kick();
  }

  /**
   * Stops sending new advices and waits up to `graceMs` for those in flight. An advice
   * still unanswered stays queued with its transmission counted, so it goes out as a
   * 0221 after the restart.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    this.deps.link.off('state', this.onLinkState);
    if (this.wakeTimer) this.deps.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.inFlight.size === 0) return;
    let timer: TimerHandle | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight.values()]),
      new Promise<void>((resolve) => {
        timer = this.deps.clock.setTimeout(resolve, graceMs);
      }),
    ]);
    if (timer) this.deps.clock.clearTimeout(timer);
  }

  /** Sends whatever is due now; resolves when nothing more can be sent now. */
  async drain(): Promise<{ remaining: number }> {
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
    await this.pumping;
    return { remaining: this.state().depth };
  }

  state(): SafQueueState {
    return safQueueState(this.deps.db, this.deps.clock.now());
  }

  private kick(): void {
    this.drain().catch((err: unknown) => this.log.error({ err }, 'store-and-forward drain failed'));
  }

  private async pump(): Promise<void> {
    const { db, link, clock, settings } = this.deps;
    this.expireOld();
    while (!this.stopped && link.ready) {
      const free = settings.window - this.inFlight.size;
      for (const item of dueSafItems(db, clock.now(), free, [...this.inFlight.keys()])) {
        const sending = this.forward(item)
          .catch((err: unknown) =>
            this.log.error({ err, txn: item.transactionId, stan: item.stan }, 'advice bookkeeping failed; the row stays queued'),
          )
          .finally(() => this.inFlight.delete(item.id));
        this.inFlight.set(item.id, sending);
      }
      if (this.inFlight.size === 0) break;
      await Promise.race(this.inFlight.values());
    }
    this.scheduleWake();
  }

  private scheduleWake(): void {
    if (this.wakeTimer) this.deps.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.stopped || !this.started) return;
    const { due, expiry } = nextSafDeadline(this.deps.db, this.deps.settings.maxAgeMs);
    const candidates = [expiry, this.deps.link.ready ? due : null].filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const delay = Math.max(0, Math.min(...candidates) - this.deps.clock.now());
    this.wakeTimer = this.deps.clock.setTimeout(() => {
      this.wakeTimer = undefined;
      this.kick();
    }, delay);
    this.wakeTimer.unref?.();
  }

  private backoff(sends: number): number {
    const { backoffMinMs, backoffMaxMs } = this.deps.settings;
    return backoffDelay(sends, backoffMinMs, backoffMaxMs, this.deps.random ?? Math.random);
  }

  private async forward(item: SafItem): Promise<void> {
    const { db, link, clock, identity, settings } = this.deps;
    const sentAt = clock.now();
    const repeat = item.sends > 0;
    // Counted before it leaves: whatever happens next, a later transmission is a 0221.
    db.prepare(`UPDATE saf_queue SET sends = sends + 1, updated_at = ? WHERE id = ?`).run(sentAt, item.id);
    const message = adviceRequest(identity, {
      repeat,
      stan: item.stan,
      amount: item.amount,
      currency: item.currency,
      at: new Date(item.queuedAt),
      sentAt: new Date(sentAt),
      entryMode: item.entryMode,
      expiry: item.expiry ?? '',
      encryptedBlob: item.encryptedBlob,
      iccData: item.iccData ?? undefined,
      batchNumber: item.batchNumber,
      offlineAuthCode: item.authCode ?? undefined,
    });
    let responseCode: string;
    let rrn: string | null;
    try {
      const answer = readAnswer(await link.request(message, settings.responseTimeoutMs));
      responseCode = answer.responseCode;
      rrn = answer.rrn;
    } catch (err) {
      this.failed(item, err);
      return;
    }
    const sends = item.sends + 1;
    if (responseCode === '00') {
      db.transaction(() => {
        this.deps.journal.apply(
          item.transactionId,
          { kind: 'AdviceAnswered', code: responseCode },
          { responseCode, rrn },
          { stan: item.stan, sends },
          'offline_approved',
        );
        // Final: the encrypted card data had no use but this advice, so it goes now, not at retention.
        db.prepare(
          `UPDATE saf_queue SET state = 'forwarded', encrypted_blob = X'', last_response_code = ?, updated_at = ? WHERE id = ?`,
        ).run(responseCode, clock.now(), item.id);
      }).immediate();
      this.log.info({ txn: item.transactionId, stan: item.stan, sends }, 'advice accepted');
      return;
    }
    if (SAF_RETRY_CODES.has(responseCode)) {
      db.prepare(`UPDATE saf_queue SET next_attempt_at = ?, last_response_code = ?, updated_at = ? WHERE id = ?`).run(
        clock.now() + this.backoff(sends),
        responseCode,
        clock.now(),
        item.id,
      );
      this.log.warn({ txn: item.transactionId, stan: item.stan, responseCode }, 'host asked to send the advice again later');
      return;
    }
    this.declined(item, responseCode, rrn, sends);
  }

  /** The host refused the advice: the merchant carries the loss and must know, now and upstream. */
  private declined(item: SafItem, code: string, rrn: string | null, sends: number): void {
    const { db, clock, journal } = this.deps;
    const entry = explain(code);
    const amount = `${item.currency} ${formatAmount(item.amount, item.currency)}`;
    db.transaction(() => {
      const txn = journal.apply(
        item.transactionId,
        { kind: 'AdviceAnswered', code },
        { responseCode: code, declineCode: code, rrn },
        { stan: item.stan, responseCode: code, sends },
        'offline_approved',
      );
      db.prepare(`UPDATE saf_queue SET state = 'declined', encrypted_blob = X'', last_response_code = ?, updated_at = ? WHERE id = ?`).run(
        code,
        clock.now(),
        item.id,
      );
      raiseAlert(db, clock, {
        key: `saf-declined:${txn.uuid}`,
        severity: 'critical',
        message: `Offline sale ${amount} (STAN ${item.stan}) declined by the host: ${entry.cashier.en}. It will not be paid.`,
        detail: {
          transactionId: txn.id,
          uuid: txn.uuid,
          stan: item.stan,
          amount: item.amount,
          currency: item.currency,
          responseCode: code,
        },
      });
      // Same id and payload as the journal's decline reporter: whichever runs first writes it, once.
      enqueueEvent(db, clock, { eventId: declineEventId(txn), type: TMS_EVENT.decline, payload: declinePayload(txn) });
    }).immediate();
    this.log.warn({ txn: item.transactionId, stan: item.stan, responseCode: code }, 'advice declined by host; merchant alerted');
  }

  private failed(item: SafItem, err: unknown): void {
    const { db, clock, settings } = this.deps;
    const now = clock.now();
    if (err instanceof HostUnreachableError) {
      // Nothing left the terminal: the transmission does not count, and the link's return restarts the drain.
      db.prepare(`UPDATE saf_queue SET sends = sends - 1, next_attempt_at = ?, updated_at = ? WHERE id = ?`).run(
        now + settings.backoffMinMs,
        now,
        item.id,
      );
      return;
    }
    // An 0230 that does not fit its advice settles nothing: it counts like no answer.
    const timedOut = err instanceof HostTimeoutError || err instanceof HostProtocolError;
    const row = db
      .prepare<[number, number, number, number], { attempts: number; sends: number }>(
        `UPDATE saf_queue SET attempts = attempts + ?, next_attempt_at = ?, updated_at = ? WHERE id = ? RETURNING attempts, sends`,
      )
      .get(timedOut ? 1 : 0, now + this.backoff(item.sends + 1), now, item.id)!;
    this.log.warn(
      { txn: item.transactionId, stan: item.stan, attempts: row.attempts, code: isPosError(err) ? err.code : String(err) },
      'advice unanswered; will repeat',
    );
    if (timedOut && row.attempts >= settings.maxAttempts) {
      raiseAlert(db, clock, {
        key: `saf-stuck:${item.uuid}`,
        severity: 'warning',
        message: `Offline sale STAN ${item.stan} not accepted after ${row.attempts} attempts; still retrying.`,
        detail: { transactionId: item.transactionId, stan: item.stan, attempts: row.attempts },
      });
    }
  }

  /** Advices older than the maximum age are given up: the sale expires and the merchant is alerted. */
  private expireOld(): void {
    const { db, clock, journal, settings } = this.deps;
    const now = clock.now();
    for (const item of safItemsQueuedBefore(db, now - settings.maxAgeMs)) {
      if (this.inFlight.has(item.id)) continue;
      db.transaction(() => {
        const txn = journal.apply(
          item.transactionId,
          { kind: 'Expired' },
          {},
          { ageMs: now - item.queuedAt, sends: item.sends },
          'offline_approved',
        );
        db.prepare(`UPDATE saf_queue SET state = 'expired', encrypted_blob = X'', updated_at = ? WHERE id = ?`).run(now, item.id);
        raiseAlert(db, clock, {
          key: `saf-expired:${txn.uuid}`,
          severity: 'critical',
          message: `Offline sale ${item.currency} ${formatAmount(item.amount, item.currency)} (STAN ${item.stan}) was not forwarded in time and expired. It will not be paid.`,
          detail: {
            transactionId: txn.id,
            uuid: txn.uuid,
            stan: item.stan,
            amount: item.amount,
            currency: item.currency,
            sends: item.sends,
          },
        });
      }).immediate();
      this.log.warn({ txn: item.transactionId, stan: item.stan }, 'offline sale expired before it could be forwarded');
    }
  }
}
