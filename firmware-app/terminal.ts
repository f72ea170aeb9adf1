import { join, isAbsolute } from 'node:path';
import { ReaderChip } from '../drivers/card-reader/chip.js';
import { CardReaderClient } from '../drivers/card-reader/client.js';
import { PrinterClient } from '../drivers/printer/client.js';
import type { PortFactory } from '../drivers/serial/port-factory.js';
import type { Config } from './config/schema.js';
import { systemClock, type Clock, type TimerHandle } from '../drivers/base/clock.js';
import { PosError } from '../drivers/base/errors.js';
import { attachDeclineReporter } from './declines/reporter.js';
import { AlertMonitors } from './alerts/monitors.js';
import { OutboxFlusher } from './upstream/flusher.js';
import { attachInvalidAnswerAlerts } from './host/answer-alerts.js';
import { HostLink } from './host/link.js';
import { MacedChannel } from './host/mac.js';
import { ReversalFirst } from './reversals/first.js';
import { ReversalManager } from './reversals/manager.js';
import { nextStan } from './store/counters.js';
import type { Logger } from './logging/logger.js';
import { Journal, type Transaction } from './payments/journal.js';
import { PaymentEngine, type CancelResult, type PaymentOutcome, type SaleOutcome, type SaleProgress } from './payments/sale.js';
import { SafForwarder } from './saf/forwarder.js';
import { recoverPayments } from './payments/recovery.js';
import { DeviceArbiter } from './devices/arbiter.js';
import type { CardReadResult } from '../drivers/card-reader/types.js';
import type { SafQueueState } from './saf/queue.js';
import { PrintQueue, type JobReport } from './printing/queue.js';
import { ReceiptJobs } from './printing/receipts.js';
import { openDatabase, WalCheckpointer, type Db, type WalCheckpointOptions } from './store/db.js';
import { attachHighWater, highWaterFile } from './store/high-water.js';
import { assertStorageHeadroom, storageFailure } from './store/storage.js';
import { schemaVersion } from './store/migrations.js';
import { JOB, standardJobs } from './jobs/catalog.js';
import { appVersion } from './jobs/heartbeat.js';
import { nodeCronSchedule, type Schedule } from './jobs/schedule.js';
import { JobScheduler, type JobRun } from './jobs/scheduler.js';
import { Settlement, SettlementError } from './settlement/settlement.js';

export interface TerminalDeps {
  logger: Logger;
  clock?: Clock;
  portFactory?: PortFactory;
  /** Where job ticks come from; node-cron unless a test drives them. */
  schedule?: Schedule;
  /** How often recovery runs while no payment is in progress. */
  recoverEveryMs?: number;
  /** When the WAL is checkpointed; the store's defaults unless a test or the bench says otherwise. */
  walCheckpoints?: Partial<WalCheckpointOptions>;
}

/** A payment stranded in flight while the process keeps running is reversed within seconds, not at the next sale. */
export const DEFAULT_RECOVER_EVERY_MS = 2_000;

export interface TerminalStatus {
  host: string;
  reader: string;
  printer: string;
  /** Offline payments waiting to be forwarded (for the status line and the heartbeat). */
  saf: SafQueueState;
}

export function resolveDataPath(config: Config, file: string): string {
  return isAbsolute(file) ? file : join(config.dataDir, file);
}

/**
 * The running terminal: every part built from the configuration and wired together.
 * The composition root (main.ts) owns process concerns; this owns the product.
 */
export class Terminal {
  readonly db: Db;
  readonly journal: Journal;
  readonly reader: CardReaderClient;
  readonly printer: PrinterClient;
  readonly link: HostLink;
  /** The payments engine: sale, refund, void, offline approval. */
  readonly sales: PaymentEngine;
  /** Forwards offline approvals to the host (store-and-forward). */
  readonly saf: SafForwarder;
  /** Undefined when no TMS is configured: events then wait in the outbox. */
  readonly upstream: OutboxFlusher | undefined;
  readonly monitors: AlertMonitors;
  readonly reversals: ReversalManager;
  /** The durable print queue (print_jobs); anything printed goes through it. */
  readonly printing: PrintQueue;
  readonly receipts: ReceiptJobs;
  /** End-of-day batch close (0500/0510) and the batch records. */
  readonly settlement: Settlement;
  /** Settlement, heartbeat, outbox flush, queue kick, retention, backup on their cron slots. */
  readonly jobs: JobScheduler;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly walCheckpoints: WalCheckpointer;
  /** Payments and the technician's card-read test take turns at the reader. */
  private readonly devices = new DeviceArbiter();
  private stopping = false;
  private recoverTimer: TimerHandle | undefined;
  private readonly recoverEveryMs: number;

  constructor(
    readonly config: Config,
    deps: TerminalDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.recoverEveryMs = deps.recoverEveryMs ?? DEFAULT_RECOVER_EVERY_MS;
    this.log = deps.logger.child('terminal');
    const databaseFile = resolveDataPath(config, 'pos-companion.db');
    this.db = openDatabase(databaseFile, {
      logger: deps.logger.child('store'),
      clock: this.clock,
      backupDir: resolveDataPath(config, config.jobs.backup.dir),
    });
    attachHighWater(this.db, highWaterFile(databaseFile), deps.logger.child('store'));
    this.journal = new Journal(this.db, this.clock);
    this.walCheckpoints = new WalCheckpointer(
      this.db,
      resolveDataPath(config, 'pos-companion.db'),
      { clock: this.clock, logger: this.log, paymentInProgress: () => this.devices.busy },
      deps.walCheckpoints,
    );
    this.upstream = config.tms.url
      ? new OutboxFlusher(this.db, { ...config.tms, terminalId: config.terminal.id }, { clock: this.clock, logger: deps.logger })
      : undefined;
    attachDeclineReporter(this.journal, this.db, this.clock, { logger: this.log, onEnqueued: () => this.upstream?.kick() });
    this.monitors = new AlertMonitors(this.db, config.alerts, {
      clock: this.clock,
      logger: deps.logger,
      onUpstreamEvent: () => this.upstream?.kick(),
    });
    this.monitors.attach(this.journal);
    this.reader = new CardReaderClient(
      {
        path: config.reader.path,
        baudRate: config.reader.baudRate,
        commandTimeoutMs: config.reader.commandTimeoutMs,
        interactiveMarginMs: config.reader.interactiveMarginMs,
        maxTransmissions: config.reader.maxTransmissions,
        reconnectMinMs: config.reader.reconnectMinMs,
        reconnectMaxMs: config.reader.reconnectMaxMs,
        healthProbeMs: config.reader.healthProbeMs,
      },
      { logger: deps.logger.child('reader'), clock: this.clock, portFactory: deps.portFactory },
    );
    this.printer = new PrinterClient(
      {
        path: config.printer.path,
        baudRate: config.printer.baudRate,
        statusTimeoutMs: config.printer.statusTimeoutMs,
        writeMarginMs: 2000,
      },
      { logger: deps.logger.child('printer'), clock: this.clock, portFactory: deps.portFactory },
    );
    this.printing = new PrintQueue({
      db: this.db,
      printer: this.printer,
      clock: this.clock,
      logger: deps.logger.child('printing'),
      options: { pollIntervalMs: config.printer.pollIntervalMs },
    });
    this.receipts = new ReceiptJobs(this.printing, {
      language: config.terminal.language,
      merchantName: config.terminal.merchantName,
      terminalId: config.terminal.id,
      merchantId: config.terminal.merchantId,
      eReceiptUrl: config.printer.eReceiptUrl,
      widthMm: config.printer.widthMm,
      merchantCopy: config.printer.merchantCopy,
    });
    this.link = new HostLink(
      {
        address: config.host.address,
        port: config.host.port,
        connectTimeoutMs: config.host.connectTimeoutMs,
        reconnectMinMs: config.host.reconnectMinMs,
        reconnectMaxMs: config.host.reconnectMaxMs,
        echoIntervalMs: config.host.echoIntervalMs,
        echoTimeoutMs: config.host.echoTimeoutMs,
        probeAfterMs: config.host.probeAfterMs,
        identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
      },
      { logger: deps.logger.child('host'), clock: this.clock, nextStan: () => nextStan(this.db) },
    );
    attachInvalidAnswerAlerts(this.link, {
      db: this.db,
      clock: this.clock,
      logger: this.log,
      onUpstreamEvent: () => this.upstream?.kick(),
    });
    // Registered before recover() runs, so a payment recovered into reversal_pending gets its reversal row.
    this.reversals = new ReversalManager({
      db: this.db,
      journal: this.journal,
      link: this.link,
      clock: this.clock,
      logger: deps.logger,
      settings: {
        identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
        timeoutMs: config.host.reversalTimeoutMs,
        backoffMinMs: config.host.reversalBackoffMinMs,
        backoffMaxMs: config.host.reversalBackoffMaxMs,
        alertAfter: config.host.reversalAlertAfter,
      },
    });
    // The reader holds the card's chip and the MAC keys: field 55, the second cryptogram and MACed 0200/0210.
    const chip = new ReaderChip(this.reader);
    this.sales = new PaymentEngine({
      db: this.db,
      journal: this.journal,
      reader: this.reader,
      chip,
      link: new MacedChannel(this.link, chip),
      clock: this.clock,
      logger: deps.logger,
      settings: {
        identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
        currency: config.terminal.currency,
        maxAmount: config.terminal.maxAmount,
        readTimeoutMs: config.reader.readTimeoutMs,
        responseTimeoutMs: config.host.responseTimeoutMs,
        offline: config.offline,
      },
      reversalFirst: new ReversalFirst(
        this.reversals,
        { enabled: config.host.reversalFirst, timeoutMs: config.host.reversalFirstTimeoutMs },
        this.clock,
      ),
    });
    this.saf = new SafForwarder({
      db: this.db,
      journal: this.journal,
      link: this.link,
      clock: this.clock,
      logger: deps.logger,
      identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
      settings: { ...config.saf, maxAgeMs: config.offline.maxAgeMs },
    });
    this.settlement = new Settlement({
      db: this.db,
      clock: this.clock,
      logger: deps.logger,
      host: this.link,
      reversals: this.reversals,
      saf: this.saf,
      printReport: async (payload, batchNumber) => {
        const report = await this.printing.report(this.printing.enqueue({ kind: 'settlement', payload }).id);
        if (!report.printed) {
          throw new SettlementError('SETTLEMENT_REPORT_QUEUED', `report of batch ${batchNumber} queued: printer ${report.printer}`, {
            batchNumber,
          });
        }
      },
      settings: {
        identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
        merchantName: config.terminal.merchantName,
        currency: config.terminal.currency,
        widthMm: config.printer.widthMm,
        quiesceTimeoutMs: config.jobs.settlement.quiesceTimeoutMs,
        responseTimeoutMs: config.jobs.settlement.responseTimeoutMs,
      },
    });
    const versions = { app: appVersion(), schema: String(schemaVersion(this.db)), node: process.version };
    const upstream = this.upstream;
    this.jobs = new JobScheduler(
      {
        db: this.db,
        clock: this.clock,
        logger: deps.logger.child('jobs'),
        schedule: deps.schedule ?? nodeCronSchedule,
        timezone: config.jobs.timezone,
      },
      standardJobs(config.jobs, {
        db: this.db,
        clock: this.clock,
        settle: (slotAt) => this.settlement.settle(slotAt),
        heartbeat: {
          devices: () => {
            const { saf: _saf, ...devices } = this.status();
            return devices;
          },
          versions,
          saf: () => this.saf.state(),
          reversals: () => ({ pending: this.reversals.pendingCount(), oldestAgeMs: this.reversals.oldestPendingAgeMs() }),
          dataDir: config.dataDir,
        },
        flushOutbox: upstream ? () => upstream.flushOnce() : undefined,
        reversals: this.reversals,
        saf: this.saf,
        backupDir: resolveDataPath(config, config.jobs.backup.dir),
        logFile: config.log.target === 'file' ? resolveDataPath(config, config.log.file) : undefined,
      }),
    );
  }

  /** Crash recovery, then devices and host link. Resolves when everything had its first try. */
  async start(): Promise<void> {
    this.recover();
    this.receipts.attach(this.journal);
    this.link.start();
    this.upstream?.start();
    this.monitors.start();
    if (!this.upstream) this.log.warn('tms.url is not set: upstream events stay in the outbox');
    this.reversals.start();
    // Queued offline sales simply resume: the forwarder drains whenever the link is up.
    this.saf.start();
    const readerUp = this.reader.connect();
    // Never throws: a missing printer shows on the status line and queued slips wait for it.
    const printerUp = this.printing.start();
    await Promise.all([readerUp, printerUp, this.link.waitOnline(this.config.host.connectTimeoutMs)]);
    this.walCheckpoints.start();
    // Last, so a catch-up settlement finds the link and the queues already running.
    this.jobs.start();
    this.armRecovery();
  }

  /** The same recovery as start-up, again whenever no payment is running. */
  private armRecovery(): void {
    this.recoverTimer = this.clock.setTimeout(() => {
      this.recoverTimer = undefined;
      if (this.stopping) return;
      if (!this.devices.busy) {
        try {
          this.recover();
        } catch (err) {
          // Storage still unavailable: the stranded payment waits for the next round.
          this.log.warn({ err: storageFailure(err) ?? err }, 'recovery could not run; retrying');
        }
      }
      this.armRecovery();
    }, this.recoverEveryMs);
    this.recoverTimer.unref?.();
  }

  /** Settles now (the console's `settle`, the technician's run-now): the same run the schedule makes. */
  settle(): Promise<JobRun> {
    return this.jobs.runNow(JOB.settlement);
  }

  /** The one recovery (payments/recovery.ts), at start-up, before each payment and on a timer while idle. */
  recover(): void {
    recoverPayments(this.journal, this.sales, this.log);
  }

  status(): TerminalStatus {
    const ps = this.printing.state;
    return {
      host: this.link.state,
      reader: this.reader.state,
      printer: ps.pending > 0 ? `${ps.printer} (${ps.pending} waiting)` : ps.printer,
      saf: this.saf.state(),
    };
  }

  /**
   * Runs one sale; its slips were queued in the transaction that committed the result.
   * Resolves after the customer copy's first print attempt, which the printer's timeouts
   * bound; a slip that could not print stays queued (`receiptQueued`) and prints later.
   * Only one sale at a time.
   */
  sale(
    amount: number,
    onProgress?: (p: SaleProgress) => void,
  ): Promise<SaleOutcome & { printed: boolean; printError?: string; receiptQueued: boolean }> {
    return this.exclusive(() => this.sales.sale({ amount }, onProgress));
  }

  /** Refund (online only), linked to its original sale when `originalId` is given; prints like a sale. */
  refund(
    amount: number,
    options: { originalId?: number } = {},
    onProgress?: (p: SaleProgress) => void,
  ): Promise<PaymentOutcome & { printed: boolean; printError?: string; receiptQueued: boolean }> {
    return this.exclusive(() => this.sales.refund({ amount, originalId: options.originalId }, onProgress));
  }

  /** Voids an approved sale of the open batch (online only). */
  void(
    originalId: number,
    onProgress?: (p: SaleProgress) => void,
  ): Promise<PaymentOutcome & { printed: boolean; printError?: string; receiptQueued: boolean }> {
    return this.exclusive(() => this.sales.void({ originalId }, onProgress));
  }

  /** Cancels the card read of the payment in progress; a request already with the host cannot be cancelled. */
  cancel(): Promise<CancelResult> {
    return this.sales.cancel();
  }

  private exclusive(
    payment: () => Promise<PaymentOutcome>,
  ): Promise<PaymentOutcome & { printed: boolean; printError?: string; receiptQueued: boolean }> {
    if (this.stopping) throw new PosError('TERMINAL_STOPPING', 'the terminal is shutting down; no new payment can start');
    return this.devices.run('payment', async () => {
      this.beforePayment();
      const outcome = await payment().catch((err: unknown) => {
        throw storageFailure(err) ?? err;
      });
      return { ...outcome, ...(await this.customerReceipt(outcome.transaction)) };
    });
  }

  /** The technician's card-read test: under the payments' lock, so it never races a sale for the reader. */
  cardReadTest(): Promise<CardReadResult> {
    return this.devices.run('card-read test', async () => {
      await this.reader.display('CARD TEST', 'Tap or insert card').catch(() => undefined);
      return this.reader.read({ amount: 0, currency: this.config.terminal.currency, timeoutMs: this.config.reader.readTimeoutMs });
    });
  }

  /** A technician's test page goes through the print queue like every slip, and reports its first attempt. */
  testPrint(payload: Buffer): Promise<JobReport> {
    return this.printing.report(this.printing.enqueue({ kind: 'test', payload }).id);
  }

  /**
   * A payment starts only with room in the journal (a full disk refuses it before the card
   * is read). A payment stranded in online_sent by a storage failure while the process kept
   * running is sent to reversal now, as a restart would.
   */
  private beforePayment(): void {
    try {
      assertStorageHeadroom(this.db, resolveDataPath(this.config, 'pos-companion.db'));
      this.recover();
    } catch (err) {
      throw storageFailure(err) ?? err;
    }
  }

  private async customerReceipt(txn: Transaction): Promise<{ printed: boolean; printError?: string; receiptQueued: boolean }> {
    const job = this.printing.jobsFor(txn.id).find((j) => j.kind === 'receipt' && j.copy === 'customer');
    if (!job) return { printed: false, receiptQueued: false };
    const report = await this.printing.report(job.id);
    if (report.printed) return { printed: true, receiptQueued: false };
    return { printed: false, printError: report.error?.message ?? `printer ${report.printer}`, receiptQueued: true };
  }

  /** Queues a copy of a past receipt from the journal, marked REPRINT, and reports its first attempt. */
  reprint(id: number, copy: 'merchant' | 'customer' = 'customer'): Promise<JobReport> {
    const job = this.receipts.reprint(this.journal.get(id), copy);
    return this.printing.report(job.id);
  }

  /** Lets an in-flight sale finish (up to graceMs); whatever is still in flight stays parked in the journal. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.recoverTimer) this.clock.clearTimeout(this.recoverTimer);
    this.recoverTimer = undefined;
    await this.jobs.stop(this.config.jobs.stopGraceMs);
    if (this.devices.busy) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.devices.idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    // Unanswered advices stay queued with their transmission counted: a 0221 after the restart.
    await this.saf.stop(2_000);
    // Stopping the link ends any reversal attempt on the wire, so its outcome commits before the close.
    const reversalsStopped = this.reversals.stop();
    // Closing the printer ends a job on the wire; its outcome is recorded before the database closes.
    const printingStopped = this.printing.stop();
    await Promise.allSettled([this.reader.close(), this.printer.close(), this.link.stop()]);
    await reversalsStopped;
    await printingStopped;
    this.monitors.stop();
    this.walCheckpoints.stop();
    await this.upstream?.stop();
    this.db.close();
  }
}
