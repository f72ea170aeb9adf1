import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { backoffDelay } from '../core/backoff.js';
import type { Logger } from '../logging/logger.js';
import { CountAhead } from './count-ahead.js';

/**
 * The row every durable queue shares (store-and-forward, reversals, the upstream outbox,
 * print jobs), whatever its table calls the columns.
 */
export interface QueueRow {
  id: number;
  /** Failed tries that count against the row (each queue says which: SAF counts only timeouts). */
  attempts: number;
  /** Transmissions so far, each counted in the commit that precedes it. */
  sends: number;
  nextAttemptAt: number;
  lastError: string | null;
}

/** What a queue's repository gives the queue: its rows in order and the bookkeeping of a try. */
export interface QueueRepository<R extends QueueRow> {
  /** Waiting rows in queue order, at most `limit`, not in `skip`; `force` ignores their next attempt time. */
  due(now: number, limit: number, skip: readonly number[], force: boolean): R[];
  /** The earliest next attempt of a waiting row, or null when none waits. */
  nextAttemptAt(): number | null;
  waiting(): number;
  /** One commit, before the transmission leaves: after a crash the next transmission is a repeat. */
  countSends(ids: readonly number[], at: number): void;
  /** The transmission never left the terminal: it does not count. */
  uncountSends(ids: readonly number[], at: number): void;
  /** A failed try: next attempt time, the error when there is one, and `attempt` adds to attempts. */
  reschedule(ids: readonly number[], change: { at: number; nextAttemptAt: number; error?: string; attempt: boolean }): void;
  /** Calls `listener` after a row was added (on the microtask queue, so after the adding transaction). */
  onAdded(listener: () => void): () => void;
  /** Runs `fn` in one immediate SQLite transaction (a queue counting ahead settles answers and counts the next rows in it). */
  transaction?<T>(fn: () => T): T;
}

/** How a try ended, as the queue's user reads the answer. */
export type Verdict =
  | { kind: 'done' }
  | { kind: 'dead'; error: string }
  | {
      kind: 'retry';
      error?: string;
      /** Counts against the row's attempts. */
      attempt: boolean;
      /** False when nothing left the terminal (refused connection): the send is taken back. */
      sent: boolean;
      /** A fixed wait instead of the backoff. */
      delayMs?: number;
    }
  /** The queue was stopped during the try: the row keeps its schedule and the send is taken back. */
  | { kind: 'abandoned' };

export type Outcome<A> = { ok: true; answer: A } | { ok: false; error: unknown };

/** What each queue supplies: its transport, how to read an answer, and how a final answer is committed. */
export interface QueueUser<R extends QueueRow, A> {
  transmit(batch: readonly R[]): Promise<A>;
  classify(outcome: Outcome<A>, batch: readonly R[]): Verdict;
  /**
   * Writes the batch's final state (and its effects, such as a journal transition) in one SQLite
   * transaction: the queue's own when its repository has `transaction` (a queue counting ahead
   * commits several final answers in one), otherwise the user's.
   */
  finish(batch: readonly R[], verdict: Extract<Verdict, { kind: 'done' | 'dead' }>, outcome: Outcome<A>): void;
  /** After a retry is recorded; e.g. an alert once the attempts pass a limit. */
  retried?(batch: readonly R[], verdict: Extract<Verdict, { kind: 'retry' }>, outcome: Outcome<A>): void;
  /**
   * Counting ahead: the batch that goes next, told while the one before it is on the wire, so
   * work for it (packing its message) is done before its turn instead of in it.
   */
  upcoming?(batch: readonly R[]): void;
  /** Counting ahead: after the commit of several final answers, e.g. one log line for them all. */
  committed?(finished: readonly FinalAnswer<R, A>[]): void;
}

/** A final answer (done or dead) of one batch, as the queue commits it. */
export interface FinalAnswer<R extends QueueRow, A> {
  batch: readonly R[];
  verdict: Extract<Verdict, { kind: 'done' | 'dead' }>;
  outcome: Outcome<A>;
}

export interface QueueSettings {
  /** For the log. */
  name: string;
  /** Batches in flight at once. */
  window: number;
  /** Rows per transmission (the outbox posts several events at once; the others send one). */
  batchSize: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** A failed try ends the pass: what is behind it waits (the TMS or the printer is not there). */
  haltOnRetry?: boolean;
  /** Longest sleep when nothing is known to be due. */
  pollMs?: number;
  /**
   * Counting ahead: one commit counts the sends of the next `rows` due rows and commits the
   * final answers received since the last one, so `rows` transmissions leave on one fsync
   * instead of one each. The rule it keeps: a send is durable before it leaves, so after a
   * crash every counted row goes as a repeat (the peer handles a repeat of something it never
   * saw as the original) and an answer not yet committed is asked for again (the peer answers
   * a repeat as it answered the original). A final answer waits at most `holdMs` for its
   * commit. Needs the repository's `transaction`.
   */
  countAhead?: { rows: number; holdMs: number };
}

export interface QueueDeps<R extends QueueRow, A> {
  repo: QueueRepository<R>;
  user: QueueUser<R, A>;
  clock: Clock;
  logger: Logger;
  random?: () => number;
  /** Sending waits for this (the host link connected and signed on); whoever flips it calls `wake()`. */
  ready?: () => boolean;
  /** Runs at the start of each pass, e.g. expiring rows too old to send. */
  beforePass?: (now: number) => void;
  /** Runs when a pass ends, e.g. committing what the pass batched (the print queue's marks). */
  afterPass?: () => void;
  /** A moment the queue must wake at besides the next attempt, e.g. the next expiry. */
  deadline?: () => number | null;
}

/** What one transmission did. */
export interface StepResult {
  attempted: number;
  verdict?: Verdict;
  /** When a retried batch is due again. */
  retryAt?: number;
}

export interface QueuePass {
  /** Rows transmitted by this pass. */
  sent: number;
  /** Rows still waiting when it ended. */
  remaining: number;
}

const MAX_ROWS_PER_LOOK = 1000;
/** After storage refused a try's bookkeeping (disk full, read-only), the next look waits this long rather than spinning. */
const STORAGE_FAULT_PAUSE_MS = 1000;

/**
 * The one implementation of a durable retry queue: rows live in SQLite; each transmission
 * is counted in the commit before it leaves; a failed try waits the shared backoff with
 * jitter; at most `window` batches are in flight; the queue wakes when a row is added,
 * when a retry comes due and when its user calls `wake()`; `drain()` sends what is due and
 * reports progress; `stop()` lets the batches in flight finish within a grace period.
 */
export class DurableQueue<R extends QueueRow, A> {
  private readonly inFlight = new Map<Promise<StepResult>, readonly number[]>();
  private passing: Promise<number> | undefined;
  private passRunning = false;
  private timer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private storageFault = false;
  private readonly log: Logger;
  private readonly ahead: CountAhead<R, A> | undefined;

  constructor(
    private readonly deps: QueueDeps<R, A>,
    private readonly settings: QueueSettings,
  ) {
    this.log = deps.logger.child(settings.name);
    if (settings.countAhead && deps.repo.transaction) {
      this.ahead = new CountAhead(
        {
          repo: deps.repo,
          user: deps.user,
          clock: deps.clock,
          log: this.log,
          mayCount: () => !this.stopped && this.isReady(),
          inFlight: () => [...this.inFlight.values()].flat(),
          storageFault: () => (this.storageFault = true),
        },
        settings.countAhead,
      );
    }
  }

  get running(): boolean {
    return this.started && !this.stopped;
  }

  /** `wake: false` when the user knows its peer is not there yet and will wake the queue when it is. */
  start(options: { wake?: boolean } = {}): void {
    if (this.running) return;
    this.started = true;
    this.stopped = false;
    this.unsubscribe = this.deps.repo.onAdded(() => this.wake());
    if (options.wake ?? true) this.wake();
  }

  /** A pass or a transmission is under way. */
  get busy(): boolean {
    return this.passRunning || this.inFlight.size > 0;
  }

  /** Stops taking rows and waits up to `graceMs` for the batches in flight; an unanswered one stays queued, its send counted. */
  async stop(graceMs = Infinity): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.clearTimer();
    const settled = Promise.allSettled([...this.inFlight.keys(), this.passing]);
    if (graceMs === Infinity) {
      await settled;
      return;
    }
    let timer: TimerHandle | undefined;
    await Promise.race([
      settled,
      new Promise<void>((resolve) => {
        timer = this.deps.clock.setTimeout(resolve, graceMs);
      }),
    ]);
    if (timer) this.deps.clock.clearTimeout(timer);
  }

  /** Something changed (a row was added, the peer came back): send what is due now. */
  wake(): void {
    if (!this.running) return;
    this.drain().catch((err: unknown) => this.log.error({ err }, 'queue pass failed'));
  }

  /**
   * Sends what is due now and resolves when nothing more can be sent now. `force` tries
   * every waiting row once, ignoring its backoff (a technician's forced drain, reversal first).
   */
  async drain(options: { force?: boolean } = {}): Promise<QueuePass> {
    const force = options.force ?? false;
    // A forced drain must not settle for a pass that honoured the backoff: it waits for it, then runs its own.
    if (force && this.passing) await this.passing;
    const sent = await this.joinOrRun(force);
    return { sent, remaining: this.deps.repo.waiting() };
  }

  /**
   * Sends one batch of due rows, or, when the window is full, waits for a batch in flight
   * instead (so two callers never send the same rows twice).
   */
  step(): Promise<StepResult> {
    if (this.inFlight.size >= this.settings.window) return [...this.inFlight.keys()][0]!;
    const rows = this.deps.repo.due(this.deps.clock.now(), this.settings.batchSize, this.busyIds(), false);
    if (rows.length === 0) return Promise.resolve({ attempted: 0 });
    return this.launch(rows);
  }

  isInFlight(id: number): boolean {
    return this.busyIds().includes(id);
  }

  /** Rows in flight, and those counted ahead or answered and not yet committed. */
  private busyIds(): number[] {
    const inFlight = [...this.inFlight.values()].flat();
    return this.ahead ? [...inFlight, ...this.ahead.ids()] : inFlight;
  }

  /**
   * Joins the pass that is still looking at the table, or starts one. A pass that has finished
   * looking is never joined, even while its promise has yet to settle: a row committed since
   * would be reported as not sent.
   */
  private joinOrRun(force: boolean): Promise<number> {
    if (!this.passRunning || !this.passing) this.passing = this.pass(force);
    return this.passing;
  }

  private async pass(force: boolean): Promise<number> {
    this.passRunning = true;
    try {
      const { repo, clock } = this.deps;
      const { window, batchSize } = this.settings;
      const { ahead } = this;
      const tried = new Set<number>();
      let sent = 0;
      let halted = false;
      this.deps.beforePass?.(clock.now());
      try {
        while (!this.stopped && !halted && this.isReady()) {
          const free = Math.min(window - this.inFlight.size, MAX_ROWS_PER_LOOK);
          const rows =
            free <= 0
              ? []
              : ahead
                ? ahead.take(free * batchSize, [...tried], force)
                : repo.due(clock.now(), free * batchSize, [...this.busyIds(), ...tried], force);
          for (let i = 0; i < rows.length; i += batchSize) {
            const batch = rows.slice(i, i + batchSize);
            sent += batch.length;
            void this.launch(batch, ahead !== undefined).then((result) => {
              const kind = result.verdict?.kind;
              if (kind === 'done' || kind === 'dead') return;
              // Still waiting: not again in this pass (a forced pass ignores the backoff that would keep it out).
              for (const r of batch) tried.add(r.id);
              if (kind === 'retry' && this.settings.haltOnRetry) halted = true;
            });
          }
          if (rows.length > 0 && ahead) {
            ahead.refill([...tried], force);
            const next = ahead.peek(batchSize);
            if (next.length > 0) this.deps.user.upcoming?.(next);
          }
          if (this.inFlight.size === 0) break;
          await Promise.race(this.inFlight.keys());
        }
      } finally {
        // Before the next wake-up is planned: answered rows are no longer due once committed.
        ahead?.settle();
      }
      this.scheduleWake();
      return sent;
    } finally {
      // Cleared in the same turn the pass stops looking, so nobody joins a pass that is over.
      this.passRunning = false;
      this.afterPass();
    }
  }

  private afterPass(): void {
    try {
      this.deps.afterPass?.();
    } catch (err) {
      this.log.error({ err }, 'queue bookkeeping after a pass failed; the rows stay queued');
    }
  }

  private isReady(): boolean {
    return this.deps.ready?.() ?? true;
  }

  private launch(batch: readonly R[], counted = false): Promise<StepResult> {
    const ids = batch.map((r) => r.id);
    const run = this.transmit(batch, counted).catch((err: unknown): StepResult => {
      this.storageFault = true;
      this.log.error({ err, rows: ids }, 'queue bookkeeping failed; the rows stay queued');
      return { attempted: batch.length };
    });
    this.inFlight.set(run, ids);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** `counted`: the send was counted ahead, in an earlier commit. */
  private async transmit(batch: readonly R[], counted: boolean): Promise<StepResult> {
    const { repo, user, clock } = this.deps;
    const ids = batch.map((r) => r.id);
    if (!counted) repo.countSends(ids, clock.now());
    let outcome: Outcome<A>;
    try {
      outcome = { ok: true, answer: await user.transmit(batch) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    const verdict = user.classify(outcome, batch);
    const attempted = batch.length;
    if (verdict.kind === 'done' || verdict.kind === 'dead') {
      if (this.ahead) this.ahead.hold({ batch, verdict, outcome }, this.passRunning && !this.stopped);
      else if (repo.transaction) repo.transaction(() => user.finish(batch, verdict, outcome));
      else user.finish(batch, verdict, outcome);
      return { attempted, verdict };
    }
    const now = clock.now();
    if (verdict.kind === 'abandoned') {
      repo.uncountSends(ids, now);
      return { attempted, verdict };
    }
    if (!verdict.sent) repo.uncountSends(ids, now);
    const retryAt = now + (verdict.delayMs ?? this.backoff(batch, verdict));
    repo.reschedule(ids, { at: now, nextAttemptAt: retryAt, error: verdict.error, attempt: verdict.attempt });
    user.retried?.(batch, verdict, outcome);
    return { attempted, verdict, retryAt };
  }

  /** The shared backoff, by the batch's transmissions so far (or its failed tries when nothing left). */
  private backoff(batch: readonly R[], verdict: Extract<Verdict, { kind: 'retry' }>): number {
    const step = Math.max(...batch.map((r) => (verdict.sent ? r.sends + 1 : r.attempts + 1)));
    return backoffDelay(step, this.settings.backoffMinMs, this.settings.backoffMaxMs, this.deps.random ?? Math.random);
  }

  private clearTimer(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sleeps until the next retry comes due (only while ready), the user's deadline, or the poll. */
  private scheduleWake(): void {
    this.clearTimer();
    if (!this.running) return;
    const now = this.deps.clock.now();
    const due = this.isReady() ? this.deps.repo.nextAttemptAt() : null;
    const deadline = this.deps.deadline?.() ?? null;
    const poll = this.settings.pollMs === undefined ? null : now + this.settings.pollMs;
    const candidates = [due, deadline, poll].filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const earliest = this.storageFault ? now + STORAGE_FAULT_PAUSE_MS : now;
    this.storageFault = false;
    this.timer = this.deps.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.wake();
      },
      Math.max(earliest, Math.min(...candidates)) - now,
    );
    this.timer.unref?.();
  }
}
