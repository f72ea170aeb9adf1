import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { clearAlert, raiseAlert } from '../alerts/alerts.js';
import { HostProtocolError, HostTimeoutError, HostUnreachableError } from '../host/errors.js';
import type { IsoMessage } from '../host/iso8583/packager.js';
import type { HostLink, LinkState } from '../host/link.js';
import { localDay, PROCESSING_CODE, readAnswer, reversalRequest, type TerminalIdentity } from '../host/messages.js';
import type { Logger } from '../logging/logger.js';
import type { Journal, Transaction } from '../payments/journal.js';
import { nextStan } from '../store/counters.js';
import type { Db } from '../store/db.js';
import { backoffDelay } from '../core/backoff.js';

export interface ReversalSettings {
  identity: TerminalIdentity;
  /** Wait for the 0410 before the attempt counts as failed. */
  timeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Attempts after which an alert is raised; retrying goes on regardless. */
  alertAfter: number;
}

export interface ReversalRow {
  id: number;
  transactionId: number;
  stan: string;
  stanDay: string;
  reason: string;
  state: 'pending' | 'acknowledged';
  attempts: number;
  transmissions: number;
  nextAttemptAt: number;
  lastError: string | null;
  alerted: boolean;
  createdAt: number;
  acknowledgedAt: number | null;
}

interface Row {
  id: number;
  transaction_id: number;
  stan: string;
  stan_day: string;
  reason: string;
  state: 'pending' | 'acknowledged';
  attempts: number;
  transmissions: number;
  next_attempt_at: number;
  last_error: string | null;
  alerted: number;
  created_at: number;
  acknowledged_at: number | null;
}

const fromRow = (r: Row): ReversalRow => ({
  id: r.id,
  transactionId: r.transaction_id,
  stan: r.stan,
  stanDay: r.stan_day,
  reason: r.reason,
  state: r.state,
  attempts: r.attempts,
  transmissions: r.transmissions,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  alerted: r.alerted === 1,
  createdAt: r.created_at,
  acknowledgedAt: r.acknowledged_at,
});

export const reversalAlertKey = (transactionId: number) => `reversal-unacknowledged:${transactionId}`;

/**
 * Reverses every 0200 whose answer never came. The reversal row (with its own STAN) is
 * written by a journal observer inside the same SQLite transaction that moves the payment
 * to `reversal_pending`, so no crash can leave a pending payment without its reversal.
 * Then: 0400, repeated as 0401 (same STAN) with capped exponential backoff and jitter
 * until a 0410 with 00 arrives; the payment becomes `reversed`. It never gives up; after
 * `alertAfter` attempts it raises an alert so a person looks at it.
 */
export class ReversalManager {
  private running = false;
  private timer: TimerHandle | undefined;
  private readonly busy = new Map<number, Promise<void>>();
  private readonly log: Logger;
  private readonly onState = (s: LinkState) => {
    // The host is back: whatever was waiting out a backoff for it goes now.
    if (s === 'online') this.retryNow();
  };
  private readonly onUnmatched = (msg: IsoMessage) => this.lateAnswer(msg);

  constructor(
    private readonly deps: {
      db: Db;
      journal: Journal;
      link: HostLink;
      clock: Clock;
      logger: Logger;
      random?: () => number;
      settings: ReversalSettings;
    },
  ) {
    this.log = deps.logger.child('reversals');
    deps.journal.onTransition(({ txn, effects, detail }) => {
      if (effects.includes('reverse')) this.enqueue(txn, detail);
    });
  }

  /** Picks up what an earlier run left pending and starts sending. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.adoptOrphans();
    this.deps.link.on('state', this.onState);
    this.deps.link.on('unmatched', this.onUnmatched);
    this.kick();
  }

  /** Stops scheduling; an attempt already on the wire finishes (stopping the link ends it). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.deps.link.off('state', this.onState);
    this.deps.link.off('unmatched', this.onUnmatched);
    await Promise.allSettled([...this.busy.values()]);
  }

  /** Tries every pending reversal now, ignoring backoff, and reports how many are still pending. */
  async drain(): Promise<{ remaining: number }> {
    await Promise.allSettled([...this.busy.values()]);
    await Promise.allSettled(this.pending().map((r) => this.attempt(r)));
    return { remaining: this.pendingCount() };
  }

  /** Makes every pending reversal due now (link back online, or a technician's forced drain). */
  retryNow(): void {
    const now = this.deps.clock.now();
    this.deps.db.prepare(`UPDATE reversals SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?`).run(now, now);
    this.kick();
  }

  pendingCount(): number {
    return this.deps.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM reversals WHERE state = 'pending'`).get()!.n;
  }

  /** Age of the oldest unacknowledged reversal, or 0 when there is none. */
  oldestPendingAgeMs(): number {
    const row = this.deps.db
      .prepare<[], { at: number | null }>(`SELECT min(created_at) AS at FROM reversals WHERE state = 'pending'`)
      .get();
    return row?.at == null ? 0 : Math.max(0, this.deps.clock.now() - row.at);
  }

  pending(): ReversalRow[] {
    return this.deps.db.prepare<[], Row>(`SELECT * FROM reversals WHERE state = 'pending' ORDER BY id`).all().map(fromRow);
  }

  forTransaction(transactionId: number): ReversalRow | undefined {
    const row = this.deps.db.prepare<[number], Row>(`SELECT * FROM reversals WHERE transaction_id = ?`).get(transactionId);
    return row ? fromRow(row) : undefined;
  }

  /** Runs inside the journal's SQLite transaction: database writes only. */
  private enqueue(txn: Transaction, detail: Record<string, unknown> | null): void {
    const { db, clock } = this.deps;
    const now = clock.now();
    const reason = typeof detail?.reason === 'string' ? detail.reason : (txn.declineCode ?? 'HOST_TIMEOUT');
    db.prepare(
      `INSERT INTO reversals (transaction_id, stan, stan_day, reason, state, attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT (transaction_id) DO NOTHING`,
    ).run(txn.id, nextStan(db), localDay(new Date(now)), reason, now, now, now);
    // The send happens after the surrounding transaction commits, never inside it.
    if (this.running) queueMicrotask(() => this.kick());
  }

  /** A payment left in reversal_pending without a reversal row (written before this store version). */
  private adoptOrphans(): void {
    const { db, journal } = this.deps;
    const orphans = db
      .prepare<[], { id: number }>(
        `SELECT t.id FROM transactions t LEFT JOIN reversals r ON r.transaction_id = t.id WHERE t.state = 'reversal_pending' AND r.id IS NULL`,
      )
      .all();
    for (const { id } of orphans) db.transaction(() => this.enqueue(journal.get(id), { reason: 'adopted at start-up' })).immediate();
  }

  private kick(): void {
    if (!this.running) return;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // A reversal waits for a ready link (connected and signed on); the link's 'online' wakes it.
    if (!this.deps.link.ready) return;
    const now = this.deps.clock.now();
    let next = Infinity;
    for (const r of this.pending()) {
      if (this.busy.has(r.id)) continue;
      if (r.nextAttemptAt <= now) void this.attempt(r);
      else next = Math.min(next, r.nextAttemptAt);
    }
    if (next !== Infinity) {
      this.timer = this.deps.clock.setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, next - now);
      this.timer.unref?.();
    }
  }

  private attempt(r: ReversalRow): Promise<void> {
    const existing = this.busy.get(r.id);
    if (existing) return existing;
    const run = this.send(r)
      .catch((err: unknown) => this.log.error({ err, reversal: r.id }, 'reversal attempt failed unexpectedly'))
      .finally(() => {
        this.busy.delete(r.id);
        this.kick();
      });
    this.busy.set(r.id, run);
    return run;
  }

  private async send(r: ReversalRow): Promise<void> {
    const { db, journal, link, clock, settings } = this.deps;
    const txn = journal.get(r.transactionId);
    if (txn.state !== 'reversal_pending') {
      // The payment was settled another way (should not happen): the reversal has nothing to do.
      db.prepare(`UPDATE reversals SET state = 'acknowledged', acknowledged_at = ?, updated_at = ? WHERE id = ?`).run(
        clock.now(),
        clock.now(),
        r.id,
      );
      return;
    }
    const repeat = r.transmissions > 0;
    const msg = reversalRequest(settings.identity, {
      repeat,
      stan: r.stan,
      sentAt: new Date(clock.now()),
      processingCode: PROCESSING_CODE[txn.type],
      amount: txn.amount,
      currency: txn.currency,
      batchNumber: txn.batchNumber,
      original: { mti: '0200', stan: txn.stan ?? '000000', transmittedAt: txn.transmittedAt ?? '0000000000' },
    });
    // Counted in its own commit before the message leaves: after a crash with the 0400 on the
    // wire, the repeat is a 0401 (the host may have the first), never a second 0400.
    db.prepare(`UPDATE reversals SET transmissions = transmissions + 1, updated_at = ? WHERE id = ?`).run(clock.now(), r.id);
    let sent = true;
    let error: string;
    try {
      const answer = readAnswer(await link.request(msg, settings.timeoutMs));
      if (answer.responseCode === '00') {
        this.acknowledge(r, txn);
        return;
      }
      error = `0410 response code ${answer.responseCode}`;
    } catch (err) {
      if (err instanceof HostUnreachableError) {
        sent = false;
        error = 'host unreachable';
      } else if (err instanceof HostTimeoutError) {
        error = 'no 0410 in time';
      } else if (err instanceof HostProtocolError) {
        // The 0400 left; an answer that does not fit it acknowledges nothing, so the reversal is repeated.
        error = err.message;
      } else {
        error = err instanceof Error ? err.message : String(err);
        sent = false;
      }
    }
    this.failed(r, txn, sent, error);
  }

  private acknowledge(r: ReversalRow, txn: Transaction): void {
    const { db, journal, clock } = this.deps;
    db.transaction(() => {
      const now = clock.now();
      db.prepare(
        `UPDATE reversals SET state = 'acknowledged', acknowledged_at = ?, attempts = attempts + 1,
         last_error = NULL, updated_at = ? WHERE id = ?`,
      ).run(now, now, r.id);
      journal.apply(txn.id, { kind: 'ReversalAcked' }, {}, { reversalStan: r.stan, attempts: r.attempts + 1 }, 'reversal_pending');
      if (r.alerted) clearAlert(db, clock, reversalAlertKey(txn.id));
    }).immediate();
    this.log.info({ txn: txn.id, stan: txn.stan, reversalStan: r.stan, attempts: r.attempts + 1 }, 'reversal acknowledged');
  }

  private failed(r: ReversalRow, txn: Transaction, sent: boolean, error: string): void {
    const { db, clock, settings } = this.deps;
    const attempts = r.attempts + 1;
    const delay = backoffDelay(attempts, settings.backoffMinMs, settings.backoffMaxMs, this.deps.random ?? Math.random);
    db.transaction(() => {
      const now = clock.now();
      const alert = attempts >= settings.alertAfter && !r.alerted;
      db.prepare(
        `UPDATE reversals SET attempts = ?, transmissions = transmissions + ?, next_attempt_at = ?, last_error = ?,
         alerted = alerted OR ?, updated_at = ? WHERE id = ?`,
      ).run(attempts, sent ? 0 : -1, now + delay, error, alert ? 1 : 0, now, r.id);
      if (alert) {
        raiseAlert(db, clock, {
          key: reversalAlertKey(txn.id),
          severity: 'critical',
          message: `reversal of STAN ${txn.stan ?? '?'} still unacknowledged after ${attempts} attempts; the customer may be charged until it goes through`,
          detail: { transactionId: txn.id, stan: txn.stan, reversalStan: r.stan, attempts, lastError: error },
        });
      }
    }).immediate();
    this.log.warn({ txn: txn.id, reversalStan: r.stan, attempts, error, retryInMs: delay }, 'reversal not acknowledged; will repeat');
  }

  private lateAnswer(msg: IsoMessage): void {
    if (msg.mti !== '0210') return;
    const stan = msg.fields.get(11);
    const txn = typeof stan === 'string' ? this.deps.journal.findByStan(stan) : undefined;
    if (txn && (txn.state === 'reversal_pending' || txn.state === 'reversed')) {
      const code = readAnswer(msg).responseCode;
      this.log.warn({ txn: txn.id, stan, responseCode: code }, 'late 0210 after the timeout ignored; the reversal stands');
    }
  }
}
