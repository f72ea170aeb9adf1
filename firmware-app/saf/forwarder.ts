import type { Clock } from '../../drivers/base/clock.js';
import { isPosError } from '../../drivers/base/errors.js';
import { formatAmount } from '../core/money.js';
import { explain } from '../declines/catalog.js';
import { declineEventId, declinePayload } from '../declines/reporter.js';
import { HostProtocolError, HostTimeoutError, HostUnreachableError } from '../host/errors.js';
import type { IsoMessage } from '../host/iso8583/packager.js';
import type { LinkState } from '../host/link.js';
import type { PreparedRequest } from '../host/prepared.js';
import { adviceRequest, readAnswer, type TerminalIdentity } from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import type { Journal } from '../payments/journal.js';
import type { Store } from '../store/store.js';
import { TMS_EVENT } from '../upstream/events.js';
import { DurableQueue, type FinalAnswer, type Outcome, type QueueUser, type Verdict } from '../store/durable-queue.js';
import type { SafItem, SafQueueState, SafRepo } from '../store/saf-repo.js';
import { enqueueEvent } from '../upstream/outbox.js';

/** The part of the host link the forwarder uses. */
export interface AdviceChannel {
  readonly state: LinkState;
  /** Connected and signed on: advices wait for it. */
  readonly ready: boolean;
  /** Packs an advice ahead of its turn. */
  packRequest(msg: IsoMessage): PreparedRequest;
  send(prepared: PreparedRequest, timeoutMs: number): Promise<IsoMessage>;
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
  /** Advices counted as sent in one commit ahead of their transmission (see `QueueSettings.countAhead`). */
  countAhead: number;
  /** Longest wait of an accepted advice for the commit that records it. */
  holdMs: number;
}

/** Host answers meaning "temporary trouble, send it again later"; they never count as attempts. */
export const SAF_RETRY_CODES: ReadonlySet<string> = new Set(['91', '96']);

/** What an advice got back: the host's response code and retrieval reference. */
interface AdviceAnswer {
  responseCode: string;
  rrn: string | null;
}

/**
 * Sends every offline approval to the host as an advice (0220; repeats are 0221 with the
 * same STAN, so the host, which keys advices on terminal id + STAN, never posts one twice),
 * in queue order with a bounded window in flight, on the terminal's one `DurableQueue`:
 * each transmission is counted in SQLite before it leaves, so after a crash the next one
 * is a 0221. It drains as soon as the link comes back, whenever a retry comes due, when an
 * offline sale is queued, and whenever `drain()` is called.
 */
/** What the merchant's alert says of an offline sale that will not be paid (declined or expired). */
function lostSale(txn: { id: number; uuid: string }, item: SafItem) {
  return { transactionId: txn.id, uuid: txn.uuid, stan: item.stan, amount: item.amount, currency: item.currency };
}

export class SafForwarder implements QueueUser<SafItem, AdviceAnswer> {
  private readonly queue: DurableQueue<SafItem, AdviceAnswer>;
  private readonly repo: SafRepo;
  private readonly log: Logger;
  /** The next advice, packed while the one before it was on the wire, and the second its field 7 names. */
  private packed: { item: SafItem; second: number; request: PreparedRequest } | undefined;
  private readonly onLinkState = (state: LinkState): void => {
    if (state === 'online') this.queue.wake();
  };

  constructor(
    private readonly deps: {
      store: Store;
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
    this.repo = deps.store.saf;
    const { settings } = deps;
    this.queue = new DurableQueue(
      {
        repo: this.repo,
        user: this,
        clock: deps.clock,
        logger: deps.logger,
        random: deps.random,
        ready: () => deps.link.ready,
        beforePass: (now) => this.expireOld(now),
        deadline: () => this.repo.nextExpiry(settings.maxAgeMs),
      },
      // One commit per `countAhead` advices on a drain: it counts their sends and records the acceptances before them.
      {
        name: 'saf',
        window: settings.window,
        batchSize: 1,
        backoffMinMs: settings.backoffMinMs,
        backoffMaxMs: settings.backoffMaxMs,
        countAhead: { rows: settings.countAhead, holdMs: settings.holdMs },
      },
    );
  }

  start(): void {
    if (this.queue.running) return;
    this.deps.link.on('state', this.onLinkState);
    this.queue.start();
  }

  /**
   * Stops sending new advices and waits up to `graceMs` for those in flight. An advice
   * still unanswered stays queued with its transmission counted, so it goes out as a
   * 0221 after the restart.
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.deps.link.off('state', this.onLinkState);
    await this.queue.stop(graceMs);
  }

  /** Sends whatever is due now; resolves when nothing more can be sent now. */
  async drain(): Promise<{ remaining: number }> {
    await this.queue.drain();
    return { remaining: this.state().depth };
  }

  state(): SafQueueState {
    return this.repo.state(this.deps.clock.now());
  }

  async transmit([item]: readonly SafItem[]): Promise<AdviceAnswer> {
    const { link, clock, settings } = this.deps;
    const now = clock.now();
    const packed = this.packed;
    this.packed = undefined;
    // Packed for this very row (same sends, so 0220 or 0221 alike) within the second its field 7 says.
    const ready = packed !== undefined && packed.item === item && packed.second === Math.floor(now / 1000) ? packed.request : undefined;
    return readAnswer(await link.send(ready ?? link.packRequest(this.advice(item!, now)), settings.responseTimeoutMs));
  }

  /**
   * Packs the advice that goes next while the one before it is on the wire, so the next 0220
   * leaves as soon as the answer is in. One that cannot be packed is left for `transmit`, which
   * fails it as it would have.
   */
  upcoming([item]: readonly SafItem[]): void {
    const now = this.deps.clock.now();
    try {
      this.packed = { item: item!, second: Math.floor(now / 1000), request: this.deps.link.packRequest(this.advice(item!, now)) };
    } catch {
      this.packed = undefined;
    }
  }

  private advice(item: SafItem, sentAt: number): IsoMessage {
    return adviceRequest(this.deps.identity, {
      repeat: item.sends > 0,
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
  }

  classify(outcome: Outcome<AdviceAnswer>): Verdict {
    if (!outcome.ok) {
      // Nothing left the terminal: the transmission does not count, and the link's return restarts the drain.
      if (outcome.error instanceof HostUnreachableError) {
        return { kind: 'retry', attempt: false, sent: false, delayMs: this.deps.settings.backoffMinMs };
      }
      // An 0230 that does not fit its advice settles nothing: it counts like no answer.
      const timedOut = outcome.error instanceof HostTimeoutError || outcome.error instanceof HostProtocolError;
      return { kind: 'retry', attempt: timedOut, sent: true };
    }
    const code = outcome.answer.responseCode;
    if (code === '00') return { kind: 'done' };
    if (SAF_RETRY_CODES.has(code)) return { kind: 'retry', error: code, attempt: false, sent: true };
    return { kind: 'dead', error: code };
  }

  /** Runs inside the queue's commit (the one that counts the next advices ahead), which makes it one with the payment's step. */
  finish([item]: readonly SafItem[], verdict: Extract<Verdict, { kind: 'done' | 'dead' }>, outcome: Outcome<AdviceAnswer>): void {
    if (!outcome.ok) return;
    const { responseCode, rrn } = outcome.answer;
    const sends = item!.sends + 1;
    if (verdict.kind === 'dead') {
      this.declined(item!, responseCode, rrn, sends);
      return;
    }
    const { clock, journal } = this.deps;
    journal.apply(
      item!.transactionId,
      { kind: 'AdviceAnswered', code: responseCode },
      { responseCode, rrn },
      { stan: item!.stan, sends },
      'offline_approved',
    );
    this.repo.finish(item!.id, 'forwarded', responseCode, clock.now());
  }

  /** One line per commit of acceptances, naming each advice by STAN and transaction so a technician finds it. */
  committed(finished: readonly FinalAnswer<SafItem, AdviceAnswer>[]): void {
    const accepted = finished.filter((f) => f.verdict.kind === 'done').map((f) => f.batch[0]!);
    if (accepted.length === 0) return;
    this.log.info(
      { advices: accepted.length, stans: accepted.map((i) => i.stan), txns: accepted.map((i) => i.transactionId) },
      'advices accepted',
    );
  }

  retried([item]: readonly SafItem[], verdict: Extract<Verdict, { kind: 'retry' }>, outcome: Outcome<AdviceAnswer>): void {
    const { store, clock, settings } = this.deps;
    if (!verdict.sent) return;
    if (verdict.error !== undefined) {
      this.log.warn(
        { txn: item!.transactionId, stan: item!.stan, responseCode: verdict.error },
        'host asked to send the advice again later',
      );
      return;
    }
    const attempts = item!.attempts + (verdict.attempt ? 1 : 0);
    const code = outcome.ok ? outcome.answer.responseCode : isPosError(outcome.error) ? outcome.error.code : String(outcome.error);
    this.log.warn({ txn: item!.transactionId, stan: item!.stan, attempts, code }, 'advice unanswered; will repeat');
    if (verdict.attempt && attempts >= settings.maxAttempts) {
      store.alerts.raise(
        {
          key: `saf-stuck:${item!.uuid}`,
          severity: 'warning',
          message: `Offline sale STAN ${item!.stan} not accepted after ${attempts} attempts; still retrying.`,
          detail: { transactionId: item!.transactionId, stan: item!.stan, attempts },
        },
        clock.now(),
      );
    }
  }

  /** The host refused the advice: the merchant carries the loss and must know, now and upstream (inside the queue's commit). */
  private declined(item: SafItem, code: string, rrn: string | null, sends: number): void {
    const { store, clock, journal } = this.deps;
    const entry = explain(code);
    const amount = `${item.currency} ${formatAmount(item.amount, item.currency)}`;
    const txn = journal.apply(
      item.transactionId,
      { kind: 'AdviceAnswered', code },
      { responseCode: code, declineCode: code, rrn },
      { stan: item.stan, responseCode: code, sends },
      'offline_approved',
    );
    this.repo.finish(item.id, 'declined', code, clock.now());
    store.alerts.raise(
      {
        key: `saf-declined:${txn.uuid}`,
        severity: 'critical',
        message: `Offline sale ${amount} (STAN ${item.stan}) declined by the host: ${entry.cashier.en}. It will not be paid.`,
        detail: { ...lostSale(txn, item), responseCode: code },
      },
      clock.now(),
    );
    // Same id and payload as the journal's decline reporter: whichever runs first writes it, once.
    enqueueEvent(store, clock, { eventId: declineEventId(txn), type: TMS_EVENT.decline, payload: declinePayload(txn) });
    this.log.warn({ txn: item.transactionId, stan: item.stan, responseCode: code }, 'advice declined by host; merchant alerted');
  }

  /** Advices older than the maximum age are given up: the sale expires and the merchant is alerted. */
  private expireOld(now: number): void {
    const { store, clock, journal, settings } = this.deps;
    for (const item of this.repo.queuedBefore(now - settings.maxAgeMs)) {
      if (this.queue.isInFlight(item.id)) continue;
      store.tx(() => {
        const txn = journal.apply(
          item.transactionId,
          { kind: 'Expired' },
          {},
          { ageMs: now - item.queuedAt, sends: item.sends },
          'offline_approved',
        );
        this.repo.finish(item.id, 'expired', null, now);
        store.alerts.raise(
          {
            key: `saf-expired:${txn.uuid}`,
            severity: 'critical',
            message: `Offline sale ${item.currency} ${formatAmount(item.amount, item.currency)} (STAN ${item.stan}) was not forwarded in time and expired. It will not be paid.`,
            detail: { ...lostSale(txn, item), sends: item.sends },
          },
          clock.now(),
        );
      });
      this.log.warn({ txn: item.transactionId, stan: item.stan }, 'offline sale expired before it could be forwarded');
    }
  }
}
