import type { Clock } from '../../drivers/base/clock.js';
import { HostProtocolError, HostTimeoutError, HostUnreachableError } from '../host/errors.js';
import type { IsoMessage } from '../host/iso8583/packager.js';
import type { HostLink, LinkState } from '../host/link.js';
import { localDay, PROCESSING_CODE, readAnswer, reversalRequest, type TerminalIdentity } from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import type { Journal, Transaction } from '../payments/journal.js';
import { givenUp, needsReversal } from '../payments/lifecycle.js';
import type { Store } from '../store/store.js';
import { DurableQueue, type Outcome, type QueueUser, type Verdict } from '../store/durable-queue.js';
import type { ReversalRepo, ReversalRow } from '../store/reversal-repo.js';

export type { ReversalRow } from '../store/reversal-repo.js';

export interface ReversalSettings {
  identity: TerminalIdentity;
  /** Wait for the 0410 before the attempt counts as failed. */
  timeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Attempts after which an alert is raised; retrying goes on regardless. */
  alertAfter: number;
}

/** The 0410's response code, with the payment it reverses. */
interface ReversalAnswer {
  code: string;
  txn: Transaction;
}

export const reversalAlertKey = (transactionId: number) => `reversal-unacknowledged:${transactionId}`;

/**
 * Reverses every 0200 whose answer never came. The reversal row (with its own STAN) is
 * written by a journal observer inside the same SQLite transaction that moves the payment
 * to `reversal_pending`, so no crash can leave a pending payment without its reversal.
 * Then, on the terminal's one `DurableQueue`: 0400, repeated as 0401 (same STAN) with
 * capped exponential backoff and jitter until a 0410 with 00 arrives; the payment becomes
 * `reversed`. It never gives up; after `alertAfter` attempts it raises an alert so a
 * person looks at it.
 */
export class ReversalManager implements QueueUser<ReversalRow, ReversalAnswer> {
  private readonly queue: DurableQueue<ReversalRow, ReversalAnswer>;
  private readonly repo: ReversalRepo;
  private readonly log: Logger;
  private readonly onState = (s: LinkState) => {
    // The host is back: whatever was waiting out a backoff for it goes now.
    if (s === 'online') this.retryNow();
  };
  private readonly onUnmatched = (msg: IsoMessage) => this.lateAnswer(msg);

  constructor(
    private readonly deps: {
      store: Store;
      journal: Journal;
      link: HostLink;
      clock: Clock;
      logger: Logger;
      random?: () => number;
      settings: ReversalSettings;
    },
  ) {
    this.log = deps.logger.child('reversals');
    this.repo = deps.store.reversals;
    this.queue = new DurableQueue(
      {
        repo: this.repo,
        user: this,
        clock: deps.clock,
        logger: this.log,
        random: deps.random,
        // A reversal waits for a ready link (connected and signed on); the link's 'online' wakes it.
        ready: () => deps.link.ready,
        beforePass: (now) => this.closeSettled(now),
      },
      {
        name: 'reversal-queue',
        // Every pending reversal goes at once: each one is a customer who may be charged meanwhile.
        window: Number.POSITIVE_INFINITY,
        batchSize: 1,
        backoffMinMs: deps.settings.backoffMinMs,
        backoffMaxMs: deps.settings.backoffMaxMs,
      },
    );
    deps.journal.onTransition(({ txn, effects, detail }) => {
      if (effects.includes('reverse')) this.enqueue(txn, detail);
    });
  }

  /** Picks up what an earlier run left pending and starts sending. */
  start(): void {
    if (this.queue.running) return;
    this.adoptOrphans();
    this.deps.link.on('state', this.onState);
    this.deps.link.on('unmatched', this.onUnmatched);
    this.queue.start();
  }

  /** Stops scheduling; an attempt already on the wire finishes (stopping the link ends it). */
  async stop(): Promise<void> {
    this.deps.link.off('state', this.onState);
    this.deps.link.off('unmatched', this.onUnmatched);
    await this.queue.stop();
  }

  /** Tries every pending reversal now, ignoring backoff, and reports how many are still pending. */
  async drain(): Promise<{ remaining: number }> {
    const { remaining } = await this.queue.drain({ force: true });
    return { remaining };
  }

  /** Makes every pending reversal due now (link back online, or a technician's forced drain). */
  retryNow(): void {
    this.repo.makeDue(this.deps.clock.now());
    this.queue.wake();
  }

  pendingCount(): number {
    return this.repo.waiting();
  }

  /** Age of the oldest unacknowledged reversal, or 0 when there is none. */
  oldestPendingAgeMs(): number {
    const at = this.repo.oldestCreatedAt();
    return at === null ? 0 : Math.max(0, this.deps.clock.now() - at);
  }

  pending(): ReversalRow[] {
    return this.repo.pending();
  }

  forTransaction(transactionId: number): ReversalRow | undefined {
    return this.repo.forTransaction(transactionId);
  }

  async transmit([r]: readonly ReversalRow[]): Promise<ReversalAnswer> {
    const { journal, link, clock, settings } = this.deps;
    const txn = journal.get(r!.transactionId);
    // The send was counted before this: after a crash with the 0400 on the wire, the repeat is a 0401.
    const msg = reversalRequest(settings.identity, {
      repeat: r!.sends > 0,
      stan: r!.stan,
      sentAt: new Date(clock.now()),
      processingCode: PROCESSING_CODE[txn.type],
      amount: txn.amount,
      currency: txn.currency,
      batchNumber: txn.batchNumber,
      original: { mti: '0200', stan: txn.stan ?? '000000', transmittedAt: txn.transmittedAt ?? '0000000000' },
    });
    return { code: readAnswer(await link.request(msg, settings.timeoutMs)).responseCode, txn };
  }

  classify(outcome: Outcome<ReversalAnswer>): Verdict {
    if (outcome.ok) {
      return outcome.answer.code === '00'
        ? { kind: 'done' }
        : { kind: 'retry', error: `0410 response code ${outcome.answer.code}`, attempt: true, sent: true };
    }
    const err = outcome.error;
    if (err instanceof HostUnreachableError) return { kind: 'retry', error: 'host unreachable', attempt: true, sent: false };
    if (err instanceof HostTimeoutError) return { kind: 'retry', error: 'no 0410 in time', attempt: true, sent: true };
    // The 0400 left; an answer that does not fit it acknowledges nothing, so the reversal is repeated.
    if (err instanceof HostProtocolError) return { kind: 'retry', error: err.message, attempt: true, sent: true };
    return { kind: 'retry', error: err instanceof Error ? err.message : String(err), attempt: true, sent: false };
  }

  finish([r]: readonly ReversalRow[], _verdict: Verdict, outcome: Outcome<ReversalAnswer>): void {
    if (!outcome.ok) return;
    const { store, journal, clock } = this.deps;
    const { txn } = outcome.answer;
    const attempts = r!.attempts + 1;
    store.tx(() => {
      this.repo.acknowledge(r!.id, clock.now(), true);
      journal.apply(txn.id, { kind: 'ReversalAcked' }, {}, { reversalStan: r!.stan, attempts }, 'reversal_pending');
      if (r!.alerted) store.alerts.clear(reversalAlertKey(txn.id), clock.now());
    });
    this.log.info({ txn: txn.id, stan: txn.stan, reversalStan: r!.stan, attempts }, 'reversal acknowledged');
  }

  retried([r]: readonly ReversalRow[], verdict: Extract<Verdict, { kind: 'retry' }>): void {
    const { store, clock, journal, settings } = this.deps;
    const attempts = r!.attempts + 1;
    this.log.warn(
      { txn: r!.transactionId, reversalStan: r!.stan, attempts, error: verdict.error },
      'reversal not acknowledged; will repeat',
    );
    if (attempts < settings.alertAfter || r!.alerted) return;
    const txn = journal.get(r!.transactionId);
    store.tx(() => {
      this.repo.markAlerted(r!.id, clock.now());
      store.alerts.raise(
        {
          key: reversalAlertKey(txn.id),
          severity: 'critical',
          message: `reversal of STAN ${txn.stan ?? '?'} still unacknowledged after ${attempts} attempts; the customer may be charged until it goes through`,
          detail: { transactionId: txn.id, stan: txn.stan, reversalStan: r!.stan, attempts, lastError: verdict.error },
        },
        clock.now(),
      );
    });
  }

  /** Runs inside the journal's SQLite transaction: database writes only; the queue wakes once it commits. */
  private enqueue(txn: Transaction, detail: Record<string, unknown> | null): void {
    const now = this.deps.clock.now();
    const reason = typeof detail?.reason === 'string' ? detail.reason : (txn.declineCode ?? 'HOST_TIMEOUT');
    this.repo.enqueue({ transactionId: txn.id, stanDay: localDay(new Date(now)), reason, now });
  }

  /** A payment left in reversal_pending without a reversal row (written before this store version). */
  private adoptOrphans(): void {
    const { store, journal } = this.deps;
    for (const id of this.repo.orphanTransactionIds()) {
      store.tx(() => this.enqueue(journal.get(id), { reason: 'adopted at start-up' }));
    }
  }

  /** A pending reversal whose payment was settled another way (should not happen) has nothing left to do. */
  private closeSettled(now: number): void {
    for (const r of this.repo.pending()) {
      if (this.queue.isInFlight(r.id)) continue;
      if (!needsReversal(this.deps.journal.get(r.transactionId).state)) this.repo.acknowledge(r.id, now, false);
    }
  }

  private lateAnswer(msg: IsoMessage): void {
    if (msg.mti !== '0210') return;
    const stan = msg.fields.get(11);
    const txn = typeof stan === 'string' ? this.deps.journal.findByStan(stan) : undefined;
    if (txn && givenUp(txn.state)) {
      const code = readAnswer(msg).responseCode;
      this.log.warn({ txn: txn.id, stan, responseCode: code }, 'late 0210 after the timeout ignored; the reversal stands');
    }
  }
}
