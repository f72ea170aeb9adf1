import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { backoffDelay } from '../core/backoff.js';
import type { Logger } from '../logging/logger.js';
import type { Db } from '../store/db.js';
import type { TmsBatch, TmsEvent } from './events.js';

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

interface Row {
  id: number;
  event_id: string;
  type: string;
  payload: string;
  created_at: number;
  attempts: number;
}

/**
 * Delivers the outbox to the TMS: oldest due events first, in batches, one POST at a time.
 * A 2xx answer means the TMS stored the whole batch; anything else (refused, timed out,
 * 5xx, 4xx) leaves every event of the batch in the outbox with its attempt count raised
 * and its next attempt pushed back. Delivery is at-least-once (an answer lost after the
 * TMS stored the batch means a repeat), and the TMS de-duplicates on `eventId`, so the
 * effect is exactly once. Everything lives in SQLite, so a restart resumes where it was.
 */
export class OutboxFlusher {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private inFlight: Promise<FlushResult> | undefined;
  private stopped = true;
  private abort = new AbortController();
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly post: HttpPost;

  constructor(
    private readonly db: Db,
    private readonly settings: FlusherSettings,
    private readonly deps: { clock: Clock; logger: Logger; random?: () => number; post?: HttpPost },
  ) {
    this.log = deps.logger.child('upstream');
    this.random = deps.random ?? Math.random;
    this.post = deps.post ?? fetchPost;
  }

  start(): void {
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.stopped = false;
    this.schedule(0);
  }

  /** Something was enqueued: deliver soon rather than at the next poll. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stops the loop; a POST in flight is abandoned and its events stay pending for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    // A batch started by the flush job is awaited too: its outcome must commit before the database closes.
    await Promise.allSettled([this.running, this.inFlight]);
  }

  /**
   * Attempts one batch of due events. A call while a batch is in flight (the scheduled
   * flush job and the loop meeting) waits for that batch instead of sending its events twice.
   */
  flushOnce(): Promise<FlushResult> {
    this.inFlight ??= this.flushBatch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async flushBatch(): Promise<FlushResult> {
    const { clock } = this.deps;
    const { batchSize, url, terminalId, requestTimeoutMs, retryMinMs, retryMaxMs } = this.settings;
    const rows = this.db
      .prepare<[number, number], Row>(
        `SELECT id, event_id, type, payload, created_at, attempts FROM outbox
          WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?`,
      )
      .all(clock.now(), batchSize);
    if (rows.length === 0) return { attempted: 0, delivered: 0 };
    const events: TmsEvent[] = rows.map((r) => ({
      eventId: r.event_id,
      type: r.type,
      terminalId,
      occurredAt: r.created_at,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
    }));
    const batch: TmsBatch = { terminalId, sentAt: clock.now(), events };
    let error: string;
    try {
      const answer = await this.post(url, JSON.stringify(batch), requestTimeoutMs, clock, this.abort.signal);
      if (answer.status >= 200 && answer.status < 300) {
        const mark = this.db.prepare(`UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?`);
        const at = clock.now();
        this.db
          .transaction(() => {
            for (const r of rows) mark.run(at, r.id);
          })
          .immediate();
        this.log.debug({ events: rows.length }, 'outbox batch delivered');
        return { attempted: rows.length, delivered: rows.length };
      }
      error = `TMS answered HTTP ${answer.status}`;
    } catch (err) {
      // Stopping is not the TMS's failure: the batch keeps its schedule and goes first after the restart.
      if (this.abort.signal.aborted) return { attempted: rows.length, delivered: 0, error: 'stopped' };
      error = `TMS not reached: ${describe(err)}`;
    }
    // The batch shares one delay so its events stay together and keep their order.
    const attempt = Math.max(...rows.map((r) => r.attempts)) + 1;
    const retryAt = clock.now() + backoffDelay(attempt, retryMinMs, retryMaxMs, this.random);
    const fail = this.db.prepare(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`);
    this.db
      .transaction(() => {
        for (const r of rows) fail.run(retryAt, error, r.id);
      })
      .immediate();
    this.log.warn({ events: rows.length, attempt, retryInMs: retryAt - clock.now(), error }, 'outbox batch not delivered');
    return { attempted: rows.length, delivered: 0, error, retryAt };
  }

  /** Due time of the next pending event, or undefined when the outbox is empty. */
  nextDueAt(): number | undefined {
    const row = this.db
      .prepare<[], { due: number | null }>(`SELECT min(next_attempt_at) AS due FROM outbox WHERE delivered_at IS NULL`)
      .get();
    return row?.due ?? undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = this.deps.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.running = this.loop().finally(() => {
          this.running = undefined;
        });
      },
      Math.max(0, delayMs),
    );
    this.timer.unref?.();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      let result: FlushResult;
      do {
        try {
          result = await this.flushOnce();
        } catch (err) {
          this.log.error({ err }, 'outbox flush failed');
          result = { attempted: 0, delivered: 0, error: describe(err) };
        }
      } while (!this.stopped && result.attempted > 0 && result.delivered === result.attempted);
    } while (this.again && !this.stopped);
    const due = this.nextDueAt();
    const now = this.deps.clock.now();
    this.schedule(Math.min(this.settings.pollMs, due === undefined ? this.settings.pollMs : due - now));
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
