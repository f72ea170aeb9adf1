import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import type { Logger } from '../../drivers/base/logger.js';
import { PrinterDisconnectedError, PrinterNotReadyError, PrinterTimeoutError } from '../../drivers/printer/errors.js';
import { describeStatus, isClean, PrinterStatusError, type PrinterStatus, type StatusWord } from '../../drivers/printer/status.js';
import { SerialOpenError } from '../../drivers/serial/port-factory.js';
import type { Db } from '../store/db.js';

/** What the queue needs from the printer; `PrinterClient` is one. */
export interface PrinterPort {
  readonly connected: boolean;
  connect(): Promise<void>;
  queryStatus(): Promise<PrinterStatus>;
  /** Resolves only when the status after the job is clean; throws a typed error otherwise. */
  print(job: Buffer): Promise<PrinterStatus>;
}

/** The cashier's word for the printer: a status word, or why no status could be read. */
export type PrinterWord = StatusWord | 'not answering' | 'disconnected' | 'unknown';

export interface PrintQueueState {
  printer: PrinterWord;
  /** Jobs waiting to print. */
  pending: number;
  /** Why the last attempt or check failed, while it still applies. */
  error?: { code: string; message: string };
}

export interface PrintJob {
  id: number;
  transactionId: number | null;
  kind: string;
  copy: string | null;
  payload: Buffer;
  state: 'queued' | 'printed' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  printedAt: number | null;
}

export interface NewPrintJob {
  /** What it is: 'receipt', 'settlement', 'test' ... */
  kind: string;
  payload: Buffer;
  transactionId?: number;
  copy?: string;
}

/** How one job fared on its latest attempt. */
export type JobReport =
  { printed: true; jobId: number } | { printed: false; jobId: number; printer: PrinterWord; error?: { code: string; message: string } };

export interface DrainResult {
  printed: number[];
  /** Jobs still queued when the pass ended. */
  waiting: number;
}

export interface PrintQueueOptions {
  /** How often the printer is asked for its status while jobs wait for it. */
  pollIntervalMs: number;
}

/**
 * Most jobs a pass prints before their marks commit. The marks are deferred and batched (one
 * commit, one fsync, for a sale's slips); a crash before they commit reprints those slips at
 * the next start, so the batch is bounded: a duplicate slip is the cost, never a lost one.
 */
const MARK_BATCH = 16;

export class PrintJobNotFoundError extends PosError {
  constructor(id: number) {
    super('PRINT_JOB_NOT_FOUND', `print job ${id} does not exist`, { id });
  }
}

interface Row {
  id: number;
  transaction_id: number | null;
  kind: string;
  copy: string | null;
  payload: Buffer;
  state: PrintJob['state'];
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  printed_at: number | null;
}

const fromRow = (r: Row): PrintJob => ({
  id: r.id,
  transactionId: r.transaction_id,
  kind: r.kind,
  copy: r.copy,
  payload: r.payload,
  state: r.state,
  attempts: r.attempts,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  printedAt: r.printed_at,
});

/** Maps a failed check or job to the word the cashier sees. */
export function wordFor(err: unknown): PrinterWord {
  if (err instanceof PrinterNotReadyError) return describeStatus(err.status);
  if (err instanceof PrinterDisconnectedError || err instanceof SerialOpenError) return 'disconnected';
  if (err instanceof PrinterTimeoutError) return 'not answering';
  // Bytes that are not status answers: line noise or the wrong device on the port.
  if (err instanceof PrinterStatusError) return 'offline';
  return 'unknown';
}

function errorInfo(err: unknown): { code: string; message: string } {
  return isPosError(err) ? { code: err.code, message: err.message } : { code: 'PRINT_FAILED', message: String(err) };
}

/**
 * The durable print queue: a job is a `print_jobs` row, printed in order and marked printed
 * only when the printer's status after it is clean. A job the printer could not finish
 * stays queued; while any job waits the printer is polled, and the first clean status
 * starts the queue again, so paper out or an open cover delays a receipt but never loses it.
 *
 * Events: 'printed' (PrintJob), 'state' (PrintQueueState).
 */
export class PrintQueue extends EventEmitter {
  private running: Promise<DrainResult> | undefined;
  private pollTimer: TimerHandle | undefined;
  private stopped = true;
  private word: PrinterWord = 'unknown';
  private lastError: { code: string; message: string } | undefined;
  private readonly waiters = new Map<number, Array<(r: JobReport) => void>>();
  /** Printed by the pass in progress, their marks not committed yet. */
  private readonly unmarked = new Set<number>();

  constructor(private readonly deps: { db: Db; printer: PrinterPort; clock: Clock; logger: Logger; options: PrintQueueOptions }) {
    super();
  }

  /**
   * Adds a job. Synchronous and database-only, so it can run inside the SQLite transaction
   * that commits what the job prints (a journal observer); the queue is kicked on the
   * microtask queue, which runs only after that transaction has committed or rolled back.
   */
  enqueue(job: NewPrintJob): PrintJob {
    const now = this.deps.clock.now();
    const row = this.deps.db
      .prepare<unknown[], Row>(
        `INSERT INTO print_jobs (transaction_id, kind, copy, payload, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?) RETURNING *`,
      )
      .get(job.transactionId ?? null, job.kind, job.copy ?? null, job.payload, now, now)!;
    queueMicrotask(() => {
      if (!this.stopped) this.kick();
    });
    return fromRow(row);
  }

  pending(): PrintJob[] {
    return this.deps.db.prepare<[], Row>(`SELECT * FROM print_jobs WHERE state = 'queued' ORDER BY id`).all().map(fromRow);
  }

  get(id: number): PrintJob {
    const row = this.deps.db.prepare<[number], Row>(`SELECT * FROM print_jobs WHERE id = ?`).get(id);
    if (!row) throw new PrintJobNotFoundError(id);
    return fromRow(row);
  }

  jobsFor(transactionId: number): PrintJob[] {
    return this.deps.db
      .prepare<[number], Row>(`SELECT * FROM print_jobs WHERE transaction_id = ? ORDER BY id`)
      .all(transactionId)
      .map(fromRow);
  }

  get state(): PrintQueueState {
    const pending = this.deps.db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM print_jobs WHERE state = 'queued'`).get()!.n;
    return { printer: this.word, pending, ...(this.lastError ? { error: this.lastError } : {}) };
  }

  /** Reads the printer's status now (for the status line at start-up); never throws. */
  async refresh(): Promise<PrinterWord> {
    try {
      if (!this.deps.printer.connected) await this.deps.printer.connect();
      const status = await this.deps.printer.queryStatus();
      this.observe(describeStatus(status), undefined);
      return this.word;
    } catch (err) {
      this.observe(wordFor(err), errorInfo(err));
      return this.word;
    }
  }

  /** Resumes jobs left queued (also across a restart) and starts printing as jobs arrive. */
  async start(): Promise<void> {
    this.stopped = false;
    const word = await this.refresh();
    if (!this.hasPending()) return;
    // A printer already known not to be ready gets polled, not sent jobs it would refuse.
    if (word === 'ready' || word === 'paper low') await this.drain();
    else this.schedulePoll();
  }

  /** Stops polling and taking new passes; resolves when the pass in progress (if any) has recorded its outcome. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelPoll();
    await this.running?.catch(() => undefined);
  }

  /** Starts printing queued jobs if not already doing so. */
  kick(): void {
    this.drain().catch((err: unknown) => this.deps.logger.error({ err }, 'print queue pass failed'));
  }

  /**
   * Prints queued jobs in order until none is left or the printer stops one. A pass already
   * running picks up jobs added meanwhile, so callers share it.
   */
  drain(): Promise<DrainResult> {
    if (this.running) return this.running;
    this.cancelPoll();
    const run = this.pass().finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /**
   * Settles after the job's next attempt (or at once if it already printed): printed, or
   * still queued and why. Waiting is bounded by the printer's timeouts, not by the printer.
   */
  report(jobId: number): Promise<JobReport> {
    const job = this.get(jobId);
    if (job.state === 'printed' || this.unmarked.has(jobId)) return Promise.resolve({ printed: true, jobId });
    if (this.stopped && !this.running) return Promise.resolve(this.waitingReport(jobId));
    const done = new Promise<JobReport>((resolve) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push(resolve);
      this.waiters.set(jobId, list);
    });
    if (!this.stopped) this.kick();
    return done;
  }

  /**
   * Jobs are taken in id order. A printed job keeps its `queued` row until its mark commits,
   * so the next job is the first queued one after the last printed; the marks commit together
   * when the pass ends (with the failure of the job the printer stopped, if any).
   */
  private async pass(): Promise<DrainResult> {
    const printed: number[] = [];
    const { db, printer, logger } = this.deps;
    let failed: { id: number; message: string } | undefined;
    let last = 0;
    try {
      for (;;) {
        const row = db.prepare<[number], Row>(`SELECT * FROM print_jobs WHERE state = 'queued' AND id > ? ORDER BY id LIMIT 1`).get(last);
        if (!row) break;
        const job = fromRow(row);
        last = job.id;
        try {
          if (!printer.connected) await printer.connect();
          const after = await printer.print(job.payload);
          printed.push(job.id);
          this.unmarked.add(job.id);
          this.observe(describeStatus(after), undefined);
          this.settle(job.id, { printed: true, jobId: job.id });
          if (this.unmarked.size >= MARK_BATCH) this.commitMarks();
        } catch (err) {
          const info = errorInfo(err);
          failed = { id: job.id, message: info.message };
          this.observe(wordFor(err), info);
          logger.warn({ job: job.id, kind: job.kind, code: info.code, printer: this.word }, 'print job kept queued');
          break;
        }
      }
    } finally {
      this.commitMarks(failed);
    }
    // Jobs the pass did not reach stay queued behind the one the printer stopped.
    this.settleWaiting();
    if (failed) this.schedulePoll();
    return { printed, waiting: this.state.pending };
  }

  /** One commit for the printed jobs not marked yet, and the failed attempt if there was one. */
  private commitMarks(failed?: { id: number; message: string }): void {
    const { db, clock } = this.deps;
    const ids = [...this.unmarked];
    if (ids.length === 0 && !failed) return;
    const now = clock.now();
    const mark = db.prepare(
      `UPDATE print_jobs SET state = 'printed', attempts = attempts + 1, last_error = NULL, printed_at = ?, updated_at = ? WHERE id = ?`,
    );
    try {
      db.transaction(() => {
        for (const id of ids) mark.run(now, now, id);
        if (failed) {
          db.prepare(`UPDATE print_jobs SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?`).run(
            failed.message,
            now,
            failed.id,
          );
        }
      }).immediate();
    } finally {
      // Marks that could not commit leave their jobs queued: they print again, never vanish.
      this.unmarked.clear();
    }
    for (const id of ids) this.emit('printed', this.get(id));
  }

  private hasPending(): boolean {
    return this.deps.db.prepare(`SELECT 1 FROM print_jobs WHERE state = 'queued' LIMIT 1`).get() !== undefined;
  }

  private settle(jobId: number, report: JobReport): void {
    const list = this.waiters.get(jobId);
    this.waiters.delete(jobId);
    for (const resolve of list ?? []) resolve(report);
  }

  private waitingReport(jobId: number): JobReport {
    return { printed: false, jobId, printer: this.word, ...(this.lastError ? { error: this.lastError } : {}) };
  }

  private settleWaiting(): void {
    for (const jobId of [...this.waiters.keys()]) this.settle(jobId, this.waitingReport(jobId));
  }

  private observe(word: PrinterWord, error: { code: string; message: string } | undefined): void {
    const changed = word !== this.word || error?.code !== this.lastError?.code;
    this.word = word;
    this.lastError = error;
    if (changed) this.emit('state', this.state);
  }

  /** While jobs wait, asks the printer for its status; the first clean answer restarts printing. */
  private schedulePoll(): void {
    if (this.stopped || this.pollTimer) return;
    const { clock, options } = this.deps;
    this.pollTimer = clock.setTimeout(() => {
      this.pollTimer = undefined;
      void this.poll();
    }, options.pollIntervalMs);
    this.pollTimer.unref?.();
  }

  private cancelPoll(): void {
    if (this.pollTimer) this.deps.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.stopped || !this.hasPending()) return;
    if (this.running) {
      // A pass is finishing; its outcome decides, so look again later rather than race it.
      this.schedulePoll();
      return;
    }
    const { printer } = this.deps;
    try {
      if (!printer.connected) await printer.connect();
      const status = await printer.queryStatus();
      const word = describeStatus(status);
      if (isClean(status)) {
        this.observe(word, undefined);
        this.deps.logger.info({ pending: this.state.pending }, 'printer ready again; printing queued jobs');
        this.kick();
        return;
      }
      this.observe(word, { code: 'PRINTER_NOT_READY', message: `printer not ready: ${word}` });
    } catch (err) {
      this.observe(wordFor(err), errorInfo(err));
    }
    this.schedulePoll();
  }
}
