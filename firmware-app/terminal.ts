import { join, isAbsolute } from 'node:path';
import type { CardReaderClient } from '../drivers/card-reader/client.js';
import type { CardReadResult } from '../drivers/card-reader/types.js';
import type { Clock } from '../drivers/base/clock.js';
import { PosError } from '../drivers/base/errors.js';
import type { Config } from './config/schema.js';
import { declineStatistics, DECLINE_STATES, type DeclineStatistics } from './declines/statistics.js';
import type { DeviceArbiter } from './devices/arbiter.js';
import type { HostLink, LinkState } from './host/link.js';
import { JOB } from './jobs/catalog.js';
import type { JobRun, JobScheduler } from './jobs/scheduler.js';
import type { Logger } from './logging/logger.js';
import type { Journal, Transaction } from './payments/journal.js';
import { recoverPayments } from './payments/recovery.js';
import type { Attribution, CancelResult, PaymentEngine, PaymentOutcome, SaleOutcome, SaleProgress } from './payments/sale.js';
import type { JobReport, PrintQueue } from './printing/queue.js';
import type { ReceiptJobs } from './printing/receipts.js';
import type { ReceiptLanguage } from './receipts/layout.js';
import type { ReversalManager } from './reversals/manager.js';
import type { SafForwarder } from './saf/forwarder.js';
import type { SafQueueState } from './saf/queue.js';
import type { Settlement } from './settlement/settlement.js';
import type { Alert } from './store/alert-repo.js';
import type { AuditRecord } from './store/audit-repo.js';
import { storageFailure } from './store/storage.js';
import type { QueueDepth, Store } from './store/store.js';
import type { TransactionQuery } from './store/transaction-repo.js';
import type { OutboxFlusher } from './upstream/flusher.js';

export interface TerminalStatus {
  host: LinkState;
  reader: string;
  printer: string;
  /** Offline payments waiting to be forwarded (for the status line and the heartbeat). */
  saf: SafQueueState;
}

/** The four durable queues a technician can look at and push. */
export type QueueName = 'saf' | 'reversals' | 'outbox' | 'print';

/** A payment's result with its customer copy's first print attempt. */
export type CounterOutcome<T extends PaymentOutcome = PaymentOutcome> = T & {
  printed: boolean;
  printError?: string;
  receiptQueued: boolean;
};

export function resolveDataPath(config: Config, file: string): string {
  return isAbsolute(file) ? file : join(config.dataDir, file);
}

/** The parts the application service drives; `compose` builds them. */
export interface TerminalParts {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: Store;
  journal: Journal;
  reader: CardReaderClient;
  link: HostLink;
  sales: PaymentEngine;
  saf: SafForwarder;
  reversals: ReversalManager;
  printing: PrintQueue;
  receipts: ReceiptJobs;
  jobs: JobScheduler;
  settlement: Settlement;
  upstream: OutboxFlusher | undefined;
  /** Payments and the technician's card-read test take turns at the reader. */
  devices: DeviceArbiter;
}

/**
 * The application service the cashier console, the line prompt and the technician menu
 * call: payments, look-ups, reprints, settlement, status and the technician's actions.
 * Everything it drives is built by `compose` (firmware-app/compose.ts); starting and
 * stopping the parts is the composition's business, not this one's.
 */
export class Terminal {
  readonly config: Config;
  private readonly log: Logger;
  private stopping = false;

  constructor(private readonly parts: TerminalParts) {
    this.config = parts.config;
    this.log = parts.logger.child('terminal');
  }

  /** From now on no payment starts (the composition is shutting down). */
  refuseNewPayments(): void {
    this.stopping = true;
  }

  /** The one recovery (payments/recovery.ts), at start-up, before each payment and on a timer while idle. */
  recover(): void {
    recoverPayments(this.parts.journal, this.parts.sales, this.log);
  }

  status(): TerminalStatus {
    const ps = this.parts.printing.state;
    return {
      host: this.parts.link.state,
      reader: this.parts.reader.state,
      printer: ps.pending > 0 ? `${ps.printer} (${ps.pending} waiting)` : ps.printer,
      saf: this.parts.saf.state(),
    };
  }

  /** Amount > 0, whole minor units, within the terminal limit, in the terminal's currency. */
  validateAmount(amount: number): void {
    this.parts.sales.validateAmount(amount);
  }

  /**
   * Runs one sale; its slips were queued in the transaction that committed the result.
   * Resolves after the customer copy's first print attempt, which the printer's timeouts
   * bound; a slip that could not print stays queued (`receiptQueued`) and prints later.
   * Only one sale at a time.
   */
  sale(amount: number, onProgress?: (p: SaleProgress) => void, by: Attribution = {}): Promise<CounterOutcome<SaleOutcome>> {
    return this.exclusive(() => this.parts.sales.sale({ amount, ...by }, onProgress));
  }

  /** Refund (online only), linked to its original sale when `originalId` is given; prints like a sale. */
  refund(
    amount: number,
    options: { originalId?: number } & Attribution = {},
    onProgress?: (p: SaleProgress) => void,
  ): Promise<CounterOutcome> {
    return this.exclusive(() =>
      this.parts.sales.refund({ amount, originalId: options.originalId, operator: options.operator }, onProgress),
    );
  }

  /** Voids an approved sale of the open batch (online only). */
  void(originalId: number, onProgress?: (p: SaleProgress) => void, by: Attribution = {}): Promise<CounterOutcome> {
    return this.exclusive(() => this.parts.sales.void({ originalId, ...by }, onProgress));
  }

  /** Why the payment cannot be voided, or null: asked by the void screen before it asks to confirm. */
  whyNotVoidable(originalId: number): string | null {
    return this.parts.sales.whyNotVoidable(originalId);
  }

  /** Cancels the card read of the payment in progress; a request already with the host cannot be cancelled. */
  cancel(): Promise<CancelResult> {
    return this.parts.sales.cancel();
  }

  /** Settles now (the console's `settle`, the technician's run-now): the same run the schedule makes. */
  settle(): Promise<JobRun> {
    return this.parts.jobs.runNow(JOB.settlement);
  }

  transaction(id: number): Transaction {
    return this.parts.journal.get(id);
  }

  /** The newest payment a card was read for. */
  lastCardPayment(): Transaction | undefined {
    return this.parts.store.transactions.lastCardPayment();
  }

  /** The last payment the cashier was told DECLINED; a cancel is not one. */
  lastDecline(): Transaction | undefined {
    return this.parts.journal.latestIn(DECLINE_STATES);
  }

  /** The payment of the last slip that came out of the printer: what "reprint last" gives the customer again. */
  lastPrintedPayment(): Transaction | undefined {
    const id = this.parts.printing.lastPrintedTransactionId();
    return id === undefined ? undefined : this.parts.journal.get(id);
  }

  /** Shows a line on the reader's customer display; a display failure is not the cashier's concern. */
  showCustomer(line1: string, line2?: string): void {
    this.parts.reader.display(line1, line2).catch(() => undefined);
  }

  /** Asks the printer for its status now; a queued slip means the queue is already talking to it. */
  async pollPrinter(): Promise<void> {
    if (this.parts.printing.state.pending === 0) await this.parts.printing.refresh();
  }

  /** The open batch, its totals and the batch records: the X report and the last settlement. */
  get batches(): Pick<Settlement, 'openBatch' | 'totals' | 'batches'> {
    return this.parts.settlement;
  }

  /** The settlement job's runs, newest first (the last settlement says whether it was a catch-up). */
  settlementRuns(limit: number): JobRun[] {
    return this.parts.jobs.history({ job: JOB.settlement, limit });
  }

  find(query: TransactionQuery): Transaction[] {
    return this.parts.store.transactions.find(query);
  }

  recent(limit: number): Transaction[] {
    return this.parts.journal.recent(limit);
  }

  /** Queues a copy of a past receipt from the journal, marked REPRINT, and reports its first attempt. */
  reprint(id: number, copy: 'merchant' | 'customer' = 'customer'): Promise<JobReport> {
    const job = this.parts.receipts.reprint(this.parts.journal.get(id), copy);
    return this.parts.printing.report(job.id);
  }

  /** Slips printed from now on follow the console's language (the cashier's `l`). */
  setSlipLanguage(language: ReceiptLanguage): void {
    this.parts.receipts.setLanguage(language);
  }

  /** The technician's card-read test: under the payments' lock, so it never races a sale for the reader. */
  cardReadTest(): Promise<CardReadResult> {
    const { reader, devices } = this.parts;
    return devices.run('card-read test', async () => {
      await reader.display('CARD TEST', 'Tap or insert card').catch(() => undefined);
      return reader.read({ amount: 0, currency: this.config.terminal.currency, timeoutMs: this.config.reader.readTimeoutMs });
    });
  }

  /** A technician's test page goes through the print queue like every slip, and reports its first attempt. */
  testPrint(payload: Buffer): Promise<JobReport> {
    return this.parts.printing.report(this.parts.printing.enqueue({ kind: 'test', payload }).id);
  }

  /** What the reader says about itself (model, firmware, serial); refused (DEVICE_BUSY) while a payment holds the reader. */
  readerInfo(): ReturnType<CardReaderClient['info']> {
    return this.parts.devices.run('reader info', () => this.parts.reader.info());
  }

  /** The technician's host echo (0800 301) on the live link. */
  hostEcho(): Promise<boolean> {
    return this.parts.link.echo();
  }

  schemaVersion(): number {
    return this.parts.store.schemaVersion();
  }

  queueDepths(): Record<QueueName, QueueDepth> {
    return this.parts.store.queueDepths();
  }

  /** One delivery pass of a queue (the technician's forced drain). */
  drainQueue(queue: QueueName): Promise<unknown> {
    const { saf, reversals, upstream, printing } = this.parts;
    switch (queue) {
      case 'saf':
        return saf.drain();
      case 'reversals':
        return reversals.drain();
      case 'outbox':
        if (!upstream) throw new PosError('OUTBOX_NOT_CONFIGURED', 'no TMS is configured: upstream events stay in the outbox');
        return upstream.flushOnce();
      case 'print':
        return printing.drain();
    }
  }

  /** Whether the outbox has somewhere to go (a TMS is configured). */
  get upstreamConfigured(): boolean {
    return this.parts.upstream !== undefined;
  }

  declineStatistics(range: { from?: number; to?: number } = {}): DeclineStatistics {
    return declineStatistics(this.parts.store.transactions, range);
  }

  alerts(limit: number): Alert[] {
    return this.parts.store.alerts.recent(limit);
  }

  jobHistory(limit: number): JobRun[] {
    return this.parts.jobs.history({ limit });
  }

  jobNames(): string[] {
    return Object.keys(this.parts.jobs.nextSlots());
  }

  runJob(name: string): Promise<JobRun> {
    return this.parts.jobs.runNow(name);
  }

  audit(entry: Omit<AuditRecord, 'at'>): void {
    this.parts.store.audit.append({ at: this.parts.clock.now(), ...entry });
  }

  /** A PIN's lockout state (the technician's unless another key is named), kept across restarts. */
  lockout(key?: string): ReturnType<Store['lockout']> {
    return this.parts.store.lockout(key);
  }

  private exclusive<T extends PaymentOutcome>(payment: () => Promise<T>): Promise<CounterOutcome<T>> {
    if (this.stopping) throw new PosError('TERMINAL_STOPPING', 'the terminal is shutting down; no new payment can start');
    return this.parts.devices.run('payment', async () => {
      this.beforePayment();
      const outcome = await payment().catch((err: unknown) => {
        throw storageFailure(err) ?? err;
      });
      return { ...outcome, ...(await this.customerReceipt(outcome.transaction)) };
    });
  }

  /**
   * A payment starts only with room in the journal (a full disk refuses it before the card
   * is read). A payment stranded in online_sent by a storage failure while the process kept
   * running is sent to reversal now, as a restart would.
   */
  private beforePayment(): void {
    try {
      this.parts.store.assertHeadroom();
      this.recover();
    } catch (err) {
      throw storageFailure(err) ?? err;
    }
  }

  private async customerReceipt(txn: Transaction): Promise<{ printed: boolean; printError?: string; receiptQueued: boolean }> {
    const { printing } = this.parts;
    const job = printing.jobsFor(txn.id).find((j) => j.kind === 'receipt' && j.copy === 'customer');
    if (!job) return { printed: false, receiptQueued: false };
    const report = await printing.report(job.id);
    if (report.printed) return { printed: true, receiptQueued: false };
    return { printed: false, printError: report.error?.message ?? `printer ${report.printer}`, receiptQueued: true };
  }
}
