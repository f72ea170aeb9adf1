import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import type { Logger } from '../../drivers/base/logger.js';
import { PrinterDisconnectedError, PrinterNotReadyError, PrinterTimeoutError } from '../../drivers/printer/errors.js';
import { describeStatus, isClean, PrinterStatusError, type PrinterStatus, type StatusWord } from '../../drivers/printer/status.js';
import { SerialOpenError } from '../../drivers/serial/port-factory.js';
import type { Store } from '../store/store.js';
import { DurableQueue, type Outcome, type QueueUser, type Verdict } from '../store/durable-queue.js';
import type { NewPrintJob, PrintJob, PrintJobRepo } from '../store/print-job-repo.js';
import { onFirstUse } from '../load-on-demand.js';

export type { NewPrintJob, PrintJob } from '../store/print-job-repo.js';

/**
 * The slip renderer (layout, ESC/POS encoder, GB18030 tables), loaded at the first print
 * rather than at start-up: a start does not print. A failed load keeps the job queued.
 */
const slipRenderer = onFirstUse('the slip renderer', () => import('../receipts/render-slip.js'));

/** Printed marks committed at once at most: a long pass still commits as it goes. */
const MARK_BATCH = 16;

/** What the queue needs from the printer; `PrinterClient` is one. */
export interface PrinterPort {
  readonly connected: boolean;
  connect(): Promise<void>;
  queryStatus(): Promise<PrinterStatus>;
  /**
   * Resolves only when the status after the job is clean; throws a typed error otherwise. A
   * function is called for the bytes while the printer answers the status asked before the job.
   */
  print(job: Buffer | (() => Buffer)): Promise<PrinterStatus>;
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

export class PrintJobNotFoundError extends PosError {
  constructor(id: number) {
    super('PRINT_JOB_NOT_FOUND', `print job ${id} does not exist`, { id });
  }
}

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
 * The durable print queue: a job is a `print_jobs` row on the terminal's one
 * `DurableQueue`, printed in order and marked printed only when the printer's status after
 * it is clean. A job the printer could not finish stays queued, and so do the jobs behind
 * it; while any job waits the printer is polled, and the first clean status wakes the
 * queue again, so paper out or an open cover delays a receipt but never loses it.
 *
 * Events: 'printed' (PrintJob), 'state' (PrintQueueState).
 */
export class PrintQueue extends EventEmitter implements QueueUser<PrintJob, PrinterStatus> {
  private readonly queue: DurableQueue<PrintJob, PrinterStatus>;
  private readonly repo: PrintJobRepo;
  private pollTimer: TimerHandle | undefined;
  private kicked: Promise<unknown> | undefined;
  private kickAgain = false;
  private stopped = true;
  private word: PrinterWord = 'unknown';
  private lastError: { code: string; message: string } | undefined;
  private readonly waiters = new Map<number, Array<(r: JobReport) => void>>();

  constructor(private readonly deps: { store: Store; printer: PrinterPort; clock: Clock; logger: Logger; options: PrintQueueOptions }) {
    super();
    this.repo = deps.store.printJobs;
    this.queue = new DurableQueue(
      { repo: this.repo, user: this, clock: deps.clock, logger: deps.logger, afterPass: () => this.commitMarks() },
      // One job at a time, in order; a job the printer stopped holds back the ones behind it.
      { name: 'print-queue', window: 1, batchSize: 1, backoffMinMs: 0, backoffMaxMs: 0, haltOnRetry: true },
    );
  }

  /**
   * Adds a job. Synchronous and database-only, so it can run inside the SQLite transaction
   * that commits what the job prints (a journal observer); the queue wakes only after that
   * transaction has committed or rolled back.
   */
  enqueue(job: NewPrintJob): PrintJob {
    return this.repo.enqueue(job, this.deps.clock.now());
  }

  pending(): PrintJob[] {
    return this.repo.queued();
  }

  get(id: number): PrintJob {
    const job = this.repo.get(id);
    if (!job) throw new PrintJobNotFoundError(id);
    return job;
  }

  /** The payment whose slip came out of the printer last ("reprint last"). */
  lastPrintedTransactionId(): number | undefined {
    return this.repo.lastPrintedTransactionId();
  }

  jobsFor(transactionId: number): PrintJob[] {
    return this.repo.forTransaction(transactionId);
  }

  /** The bytes the job sends to the printer: a slip is laid out and encoded from its record now. */
  async bytes(job: PrintJob): Promise<Buffer> {
    return job.slip === null ? job.payload : (await slipRenderer()).renderSlip(job.slip);
  }

  get state(): PrintQueueState {
    return { printer: this.word, pending: this.repo.waiting(), ...(this.lastError ? { error: this.lastError } : {}) };
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
    this.queue.start({ wake: false });
    if (this.repo.waiting() === 0) return;
    // A printer already known not to be ready gets polled, not sent jobs it would refuse.
    if (word === 'ready' || word === 'paper low') await this.drain();
    else this.schedulePoll();
  }

  /** Stops polling and taking new passes; resolves when the pass in progress (if any) has recorded its outcome. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelPoll();
    await this.queue.stop();
  }

  /**
   * Starts printing queued jobs if not already doing so. One kicked drain at a time (a drain per
   * report used to stay alive for as long as slips kept coming); a kick while one runs asks for
   * another once it ends, so a report asked for as a drain settles its waiters is still settled.
   */
  kick(): void {
    if (this.kicked) {
      this.kickAgain = true;
      return;
    }
    this.kicked = this.drain()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'print queue pass failed'))
      .finally(() => {
        this.kicked = undefined;
        if (!this.kickAgain || this.stopped) return;
        this.kickAgain = false;
        this.kick();
      });
  }

  /**
   * Prints queued jobs in order until none is left or the printer stops one. A pass already
   * running picks up jobs added meanwhile, so callers share it.
   */
  async drain(): Promise<DrainResult> {
    this.cancelPoll();
    const printed: number[] = [];
    const onPrinted = (job: PrintJob) => printed.push(job.id);
    this.on('printed', onPrinted);
    try {
      // A pass started meanwhile (a job added as this one ended) may hold jobs someone awaits:
      // waiters are told "still waiting" only once no pass is left to print them.
      do await this.queue.drain();
      while (this.queue.busy);
    } finally {
      this.off('printed', onPrinted);
      // Jobs the pass did not reach stay queued behind the one the printer stopped.
      this.settleWaiting();
    }
    return { printed, waiting: this.state.pending };
  }

  /**
   * Settles after the job's next attempt (or at once if it already printed): printed, or
   * still queued and why. Waiting is bounded by the printer's timeouts, not by the printer.
   */
  report(jobId: number): Promise<JobReport> {
    const job = this.get(jobId);
    if (job.state === 'printed' || this.repo.isUnmarked(jobId)) return Promise.resolve({ printed: true, jobId });
    if (this.stopped && !this.queue.busy) return Promise.resolve(this.waitingReport(jobId));
    const done = new Promise<JobReport>((resolve) => {
      const list = this.waiters.get(jobId) ?? [];
      list.push(resolve);
      this.waiters.set(jobId, list);
    });
    if (!this.stopped) this.kick();
    return done;
  }

  async transmit([job]: readonly PrintJob[]): Promise<PrinterStatus> {
    const { printer } = this.deps;
    if (!printer.connected) await printer.connect();
    const { slip, payload } = job!;
    let bytes = () => payload;
    if (slip !== null) {
      const { renderSlip } = await slipRenderer();
      // A slip is laid out and encoded while the printer answers the status asked before it.
      bytes = () => renderSlip(slip);
    }
    return printer.print(bytes);
  }

  classify(outcome: Outcome<PrinterStatus>): Verdict {
    if (outcome.ok) return { kind: 'done' };
    return { kind: 'retry', error: errorInfo(outcome.error).message, attempt: true, sent: true, delayMs: 0 };
  }

  /**
   * The slip is out: the cashier is told at once, and the "printed" marks of a pass commit
   * together when it ends (a sale's two slips cost one deferred commit). A crash before that
   * commit prints them again; it never loses one.
   */
  finish([job]: readonly PrintJob[], _verdict: Verdict, outcome: Outcome<PrinterStatus>): void {
    this.repo.markPrinted(job!.id);
    if (outcome.ok) this.observe(describeStatus(outcome.answer), undefined);
    this.settle(job!.id, { printed: true, jobId: job!.id });
    if (this.repo.unmarkedCount >= MARK_BATCH) this.commitMarks();
  }

  private commitMarks(): void {
    for (const id of this.repo.commitMarks(this.deps.clock.now())) this.emit('printed', this.get(id));
  }

  retried([job]: readonly PrintJob[], _verdict: Verdict, outcome: Outcome<PrinterStatus>): void {
    const err = outcome.ok ? undefined : outcome.error;
    const info = errorInfo(err);
    this.observe(wordFor(err), info);
    this.deps.logger.warn({ job: job!.id, kind: job!.kind, code: info.code, printer: this.word }, 'print job kept queued');
    this.schedulePoll();
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
    if (this.stopped || this.repo.waiting() === 0) return;
    if (this.queue.busy) {
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
