import type { Clock } from '../../drivers/base/clock.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/store.js';
import { DurableQueue, type Outcome, type QueueUser, type StepResult, type Verdict } from '../store/durable-queue.js';
import type { OutboxRepo, OutboxRow } from '../store/outbox-repo.js';
import type { TmsBatch } from './events.js';

export interface FlusherSettings {
  /** The TMS events endpoint (HTTP POST, JSON). */
  url: string;
  terminalId: string;
  /** Events per POST. */
  batchSize: number;
  requestTimeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** How often to look at the outbox when nothing is known to be due. */
  pollMs: number;
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** Sends one request; rejects on a transport failure (refused, reset, timed out). */
export type HttpPost = (url: string, body: string, timeoutMs: number, clock: Clock, signal: AbortSignal) => Promise<HttpAnswer>;

export interface FlushResult {
  /** Events in the batch that was attempted (0: nothing was due). */
  attempted: number;
  delivered: number;
  /** Why the batch failed, when it did. */
  error?: string;
  /** When the failed batch is due again (epoch ms). */
  retryAt?: number;
}

export const fetchPost: HttpPost = async (url, body, timeoutMs, clock, signal) => {
  const controller = new AbortController();
  const abort = () => controller.abort();
  signal.addEventListener('abort', abort, { once: true });
  const timer = clock.setTimeout(abort, timeoutMs);
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: controller.signal });
    return { status: res.status, body: await res.text() };
  } finally {
    clock.clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
};

/**
 * Delivers the outbox to the TMS: oldest due events first, in batches, one POST at a time,
 * on the terminal's one `DurableQueue`. A 2xx answer means the TMS stored the whole batch;
 * anything else (refused, timed out, 5xx, 4xx) leaves every event of the batch in the
 * outbox with its attempt count raised and its next attempt pushed back. Delivery is
 * at-least-once (an answer lost after the TMS stored the batch means a repeat), and the TMS
 * de-duplicates on `eventId`, so the effect is exactly once. An event is sent as soon as the
 * transaction that wrote it commits, whichever part of the terminal wrote it; the poll is
 * only a safety net. Everything lives in SQLite, so a restart resumes where it was.
 */
export class OutboxFlusher implements QueueUser<OutboxRow, HttpAnswer> {
  private abort = new AbortController();
  private flushing: Promise<FlushResult> | undefined;
  private readonly queue: DurableQueue<OutboxRow, HttpAnswer>;
  private readonly repo: OutboxRepo;
  private readonly log: Logger;
  private readonly post: HttpPost;

  constructor(
    store: Store,
    private readonly settings: FlusherSettings,
    private readonly deps: { clock: Clock; logger: Logger; random?: () => number; post?: HttpPost },
  ) {
    this.log = deps.logger.child('upstream');
    this.post = deps.post ?? fetchPost;
    this.repo = store.outbox;
    this.queue = new DurableQueue(
      { repo: this.repo, user: this, clock: deps.clock, logger: this.log, random: deps.random },
      {
        name: 'outbox',
        window: 1,
        batchSize: settings.batchSize,
        backoffMinMs: settings.retryMinMs,
        backoffMaxMs: settings.retryMaxMs,
        // The TMS did not take one batch: the ones behind it wait for the same backoff.
        haltOnRetry: true,
        pollMs: settings.pollMs,
      },
    );
  }

  start(): void {
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.queue.start();
  }

  /** Deliver now rather than at the next poll (an enqueue wakes the flusher by itself; this is for callers that know more). */
  kick(): void {
    this.queue.wake();
  }

  /** Stops the loop; a POST in flight is abandoned and its events stay pending for the next start. */
  async stop(): Promise<void> {
    this.abort.abort();
    // A batch started by the flush job is awaited too: its outcome must commit before the database closes.
    await this.queue.stop();
  }

  /**
   * Attempts one batch of due events. A call while a batch is in flight (the scheduled
   * flush job and the loop meeting) waits for that batch instead of sending its events twice.
   */
  flushOnce(): Promise<FlushResult> {
    this.flushing ??= this.queue
      .step()
      .then(resultOf)
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  async transmit(rows: readonly OutboxRow[]): Promise<HttpAnswer> {
    const { clock } = this.deps;
    const { url, terminalId, requestTimeoutMs } = this.settings;
    const batch: TmsBatch = {
      terminalId,
      sentAt: clock.now(),
      events: rows.map((r) => ({ eventId: r.eventId, type: r.type, terminalId, occurredAt: r.createdAt, payload: r.payload })),
    };
    return this.post(url, JSON.stringify(batch), requestTimeoutMs, clock, this.abort.signal);
  }

  classify(outcome: Outcome<HttpAnswer>): Verdict {
    if (outcome.ok && outcome.answer.status >= 200 && outcome.answer.status < 300) return { kind: 'done' };
    // Stopping is not the TMS's failure: the batch keeps its schedule and goes first after the restart.
    if (!outcome.ok && this.abort.signal.aborted) return { kind: 'abandoned' };
    const error = outcome.ok ? `TMS answered HTTP ${outcome.answer.status}` : `TMS not reached: ${describe(outcome.error)}`;
    return { kind: 'retry', error, attempt: true, sent: true };
  }

  finish(rows: readonly OutboxRow[]): void {
    this.repo.delivered(
      rows.map((r) => r.id),
      this.deps.clock.now(),
    );
    this.log.debug({ events: rows.length }, 'outbox batch delivered');
  }

  retried(rows: readonly OutboxRow[], verdict: Extract<Verdict, { kind: 'retry' }>): void {
    this.log.warn(
      { events: rows.length, attempt: Math.max(...rows.map((r) => r.attempts)) + 1, error: verdict.error },
      'outbox batch not delivered',
    );
  }
}

function resultOf(step: StepResult): FlushResult {
  const { attempted, verdict, retryAt } = step;
  if (attempted === 0) return { attempted: 0, delivered: 0 };
  if (verdict?.kind === 'done') return { attempted, delivered: attempted };
  if (verdict?.kind === 'abandoned') return { attempted, delivered: 0, error: 'stopped' };
  const error = verdict?.kind === 'retry' ? (verdict.error ?? 'not delivered') : 'not delivered';
  return retryAt === undefined ? { attempted, delivered: 0, error } : { attempted, delivered: 0, error, retryAt };
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
