import { ReaderChip } from '../drivers/card-reader/chip.js';
import { CardReaderClient } from '../drivers/card-reader/client.js';
import { PrinterClient } from '../drivers/printer/client.js';
import type { PortFactory } from '../drivers/serial/port-factory.js';
import { systemClock, type Clock, type TimerHandle } from '../drivers/base/clock.js';
import { AlertMonitors } from './alerts/monitors.js';
import type { Config } from './config/schema.js';
import { attachDeclineReporter } from './declines/reporter.js';
import { DeviceArbiter } from './devices/arbiter.js';
import { attachInvalidAnswerAlerts } from './host/answer-alerts.js';
import { HostLink } from './host/link.js';
import { MacedChannel } from './host/mac.js';
import { standardJobs } from './jobs/catalog.js';
import { appVersion } from './jobs/heartbeat.js';
import { CronTicker, type Schedule } from './jobs/schedule.js';
import { JobScheduler } from './jobs/scheduler.js';
import type { Logger } from './logging/logger.js';
import { Journal } from './payments/journal.js';
import { PaymentEngine } from './payments/sale.js';
import { PrintQueue } from './printing/queue.js';
import { ReceiptJobs } from './printing/receipts.js';
import { ReversalFirst } from './reversals/first.js';
import { ReversalManager } from './reversals/manager.js';
import { SafForwarder } from './saf/forwarder.js';
import { enqueueSaf, safExposure } from './saf/queue.js';
import { Settlement, SettlementError } from './settlement/settlement.js';
import { openDatabase, WalCheckpointer, type Db, type WalCheckpointOptions } from './store/db.js';
import { attachHighWater, highWaterFile } from './store/high-water.js';
import { storageFailure } from './store/storage.js';
import { Store } from './store/store.js';
import { resolveDataPath, Terminal } from './terminal.js';
import type { ReportUpstream } from './upstream/events.js';
import { OutboxFlusher } from './upstream/flusher.js';
import { enqueueEvent } from './upstream/outbox.js';

export interface ComposeDeps {
  logger: Logger;
  clock?: Clock;
  portFactory?: PortFactory;
  /** Where job ticks come from; the one-timer cron ticker on the clock unless a test drives them. */
  schedule?: Schedule;
  /** How often recovery runs while no payment is in progress. */
  recoverEveryMs?: number;
  /** When the WAL is checkpointed; the store's defaults unless a test or the bench says otherwise. */
  walCheckpoints?: Partial<WalCheckpointOptions>;
}

/** A payment stranded in flight while the process keeps running is reversed within seconds, not at the next sale. */
export const DEFAULT_RECOVER_EVERY_MS = 2_000;

/**
 * The whole object graph, built once from the configuration: the composition root's only
 * product. `terminal` is what the user interfaces call; the parts are here for the process
 * (start, stop) and for the tests and the bench that drive one part directly.
 */
export interface App {
  readonly config: Config;
  readonly terminal: Terminal;
  readonly store: Store;
  /** The handle itself, given only to the queue modules that still take it (store-and-forward, reversals, outbox, print jobs). */
  readonly db: Db;
  readonly journal: Journal;
  readonly reader: CardReaderClient;
  readonly printer: PrinterClient;
  readonly link: HostLink;
  readonly sales: PaymentEngine;
  readonly saf: SafForwarder;
  /** Undefined when no TMS is configured: events then wait in the outbox. */
  readonly upstream: OutboxFlusher | undefined;
  readonly monitors: AlertMonitors;
  readonly reversals: ReversalManager;
  /** The durable print queue (print_jobs); anything printed goes through it. */
  readonly printing: PrintQueue;
  readonly receipts: ReceiptJobs;
  readonly settlement: Settlement;
  readonly jobs: JobScheduler;
  /** Crash recovery, then devices and host link. Resolves when everything had its first try. */
  start(): Promise<void>;
  /** Lets an in-flight payment finish (up to graceMs); whatever is still in flight stays parked in the journal. */
  stop(graceMs?: number): Promise<void>;
}

/** Builds every part from the configuration and wires them together; nothing starts until `start()`. */
export function compose(config: Config, deps: ComposeDeps): App {
  const clock = deps.clock ?? systemClock;
  const log = deps.logger.child('terminal');
  const identity = { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii };
  const databaseFile = resolveDataPath(config, 'pos-companion.db');
  const db = openDatabase(databaseFile, {
    logger: deps.logger.child('store'),
    clock,
    backupDir: resolveDataPath(config, config.jobs.backup.dir),
  });
  attachHighWater(db, highWaterFile(databaseFile), deps.logger.child('store'));
  const store = new Store(db, databaseFile);
  const report: ReportUpstream = (event) => void enqueueEvent(store, clock, event);
  const devices = new DeviceArbiter();
  const journal = new Journal(store, clock);
  const walCheckpoints = new WalCheckpointer(
    db,
    databaseFile,
    { clock, logger: log, paymentInProgress: () => devices.busy },
    deps.walCheckpoints,
  );
  const upstream = config.tms.url
    ? new OutboxFlusher(store, { ...config.tms, terminalId: config.terminal.id }, { clock, logger: deps.logger })
    : undefined;
  const kickUpstream = () => upstream?.kick();
  attachDeclineReporter(journal, report, { logger: log, onEnqueued: kickUpstream });
  const monitors = new AlertMonitors(store, config.alerts, { clock, logger: deps.logger, report, onUpstreamEvent: kickUpstream });
  monitors.attach(journal);
  const r = config.reader;
  const reader = new CardReaderClient(
    {
      path: r.path,
      baudRate: r.baudRate,
      commandTimeoutMs: r.commandTimeoutMs,
      interactiveMarginMs: r.interactiveMarginMs,
      maxTransmissions: r.maxTransmissions,
      reconnectMinMs: r.reconnectMinMs,
      reconnectMaxMs: r.reconnectMaxMs,
      healthProbeMs: r.healthProbeMs,
    },
    { logger: deps.logger.child('reader'), clock, portFactory: deps.portFactory },
  );
  const printer = new PrinterClient(
    { path: config.printer.path, baudRate: config.printer.baudRate, statusTimeoutMs: config.printer.statusTimeoutMs, writeMarginMs: 2000 },
    { logger: deps.logger.child('printer'), clock, portFactory: deps.portFactory },
  );
  const printing = new PrintQueue({
    store,
    printer,
    clock,
    logger: deps.logger.child('printing'),
    options: { pollIntervalMs: config.printer.pollIntervalMs },
  });
  const receipts = new ReceiptJobs(printing, {
    language: config.terminal.language,
    merchantName: config.terminal.merchantName,
    terminalId: config.terminal.id,
    merchantId: config.terminal.merchantId,
    eReceiptUrl: config.printer.eReceiptUrl,
    widthMm: config.printer.widthMm,
    merchantCopy: config.printer.merchantCopy,
    logger: deps.logger.child('receipts'),
  });
  const h = config.host;
  const link = new HostLink(
    {
      address: h.address,
      port: h.port,
      connectTimeoutMs: h.connectTimeoutMs,
      reconnectMinMs: h.reconnectMinMs,
      reconnectMaxMs: h.reconnectMaxMs,
      echoIntervalMs: h.echoIntervalMs,
      echoTimeoutMs: h.echoTimeoutMs,
      probeAfterMs: h.probeAfterMs,
      identity,
    },
    { logger: deps.logger.child('host'), clock, nextStan: () => store.nextStan() },
  );
  attachInvalidAnswerAlerts(link, { store, report, clock, logger: log, onUpstreamEvent: kickUpstream });
  // Registered before recover() runs, so a payment recovered into reversal_pending gets its reversal row.
  const reversals = new ReversalManager({
    store,
    journal,
    link,
    clock,
    logger: deps.logger,
    settings: {
      identity,
      timeoutMs: h.reversalTimeoutMs,
      backoffMinMs: h.reversalBackoffMinMs,
      backoffMaxMs: h.reversalBackoffMaxMs,
      alertAfter: h.reversalAlertAfter,
    },
  });
  // The reader holds the card's chip and the MAC keys: field 55, the second cryptogram and MACed 0200/0210.
  const chip = new ReaderChip(reader);
  const sales = new PaymentEngine({
    store,
    journal,
    offlineQueue: { exposure: (currency) => safExposure(store, currency), enqueue: (item) => enqueueSaf(store, item) },
    reader,
    chip,
    link: new MacedChannel(link, chip),
    clock,
    logger: deps.logger,
    settings: {
      identity,
      currency: config.terminal.currency,
      maxAmount: config.terminal.maxAmount,
      readTimeoutMs: r.readTimeoutMs,
      responseTimeoutMs: h.responseTimeoutMs,
      offline: config.offline,
      cvm: config.cvm,
    },
    reversalFirst: new ReversalFirst(reversals, { enabled: h.reversalFirst, timeoutMs: h.reversalFirstTimeoutMs }, clock),
  });
  const saf = new SafForwarder({
    store,
    journal,
    link,
    clock,
    logger: deps.logger,
    identity,
    settings: { ...config.saf, maxAgeMs: config.offline.maxAgeMs },
  });
  const settlement = new Settlement({
    store,
    report,
    clock,
    logger: deps.logger,
    host: link,
    reversals,
    saf,
    printReport: async (payload, batchNumber) => {
      const printed = await printing.report(printing.enqueue({ kind: 'settlement', payload }).id);
      if (!printed.printed) {
        throw new SettlementError('SETTLEMENT_REPORT_QUEUED', `report of batch ${batchNumber} queued: printer ${printed.printer}`, {
          batchNumber,
        });
      }
    },
    settings: {
      identity,
      merchantName: config.terminal.merchantName,
      currency: config.terminal.currency,
      widthMm: config.printer.widthMm,
      quiesceTimeoutMs: config.jobs.settlement.quiesceTimeoutMs,
      responseTimeoutMs: config.jobs.settlement.responseTimeoutMs,
    },
  });
  const versions = { app: appVersion(), schema: String(store.schemaVersion()), node: process.version };
  const jobs = new JobScheduler(
    { store, clock, logger: deps.logger.child('jobs'), schedule: deps.schedule ?? new CronTicker(clock), timezone: config.jobs.timezone },
    standardJobs(config.jobs, {
      store,
      report,
      clock,
      settle: (slotAt) => settlement.settle(slotAt),
      heartbeat: {
        devices: () => {
          const { saf: _saf, ...devices } = terminal.status();
          return devices;
        },
        versions,
        saf: () => saf.state(),
        reversals: () => ({ pending: reversals.pendingCount(), oldestAgeMs: reversals.oldestPendingAgeMs() }),
        dataDir: config.dataDir,
      },
      flushOutbox: upstream ? () => upstream.flushOnce() : undefined,
      reversals,
      saf,
      backupDir: resolveDataPath(config, config.jobs.backup.dir),
      logFile: config.log.target === 'file' ? resolveDataPath(config, config.log.file) : undefined,
    }),
  );
  const terminal: Terminal = new Terminal({
    config,
    clock,
    logger: deps.logger,
    store,
    journal,
    reader,
    link,
    sales,
    saf,
    reversals,
    printing,
    receipts,
    jobs,
    settlement,
    upstream,
    devices,
  });
  const parts = {
    config,
    terminal,
    store,
    db,
    journal,
    reader,
    printer,
    link,
    sales,
    saf,
    upstream,
    monitors,
    reversals,
    printing,
    receipts,
    settlement,
    jobs,
  };
  return new Running(parts, { clock, log, devices, walCheckpoints, recoverEveryMs: deps.recoverEveryMs ?? DEFAULT_RECOVER_EVERY_MS });
}

/** Starting and stopping the parts in the order the write-ahead rule needs. */
class Running implements App {
  readonly config;
  readonly terminal;
  readonly store;
  readonly db;
  readonly journal;
  readonly reader;
  readonly printer;
  readonly link;
  readonly sales;
  readonly saf;
  readonly upstream;
  readonly monitors;
  readonly reversals;
  readonly printing;
  readonly receipts;
  readonly settlement;
  readonly jobs;
  private stopping = false;
  private recoverTimer: TimerHandle | undefined;

  constructor(
    parts: Omit<App, 'start' | 'stop'>,
    private readonly run: {
      clock: Clock;
      log: Logger;
      devices: DeviceArbiter;
      walCheckpoints: WalCheckpointer;
      recoverEveryMs: number;
    },
  ) {
    ({
      config: this.config,
      terminal: this.terminal,
      store: this.store,
      db: this.db,
      journal: this.journal,
      reader: this.reader,
      printer: this.printer,
      link: this.link,
      sales: this.sales,
      saf: this.saf,
      upstream: this.upstream,
      monitors: this.monitors,
      reversals: this.reversals,
      printing: this.printing,
      receipts: this.receipts,
      settlement: this.settlement,
      jobs: this.jobs,
    } = parts);
  }

  async start(): Promise<void> {
    this.terminal.recover();
    this.receipts.attach(this.journal);
    this.link.start();
    this.upstream?.start();
    this.monitors.start();
    if (!this.upstream) this.run.log.warn('tms.url is not set: upstream events stay in the outbox');
    this.reversals.start();
    // Queued offline sales simply resume: the forwarder drains whenever the link is up.
    this.saf.start();
    const readerUp = this.reader.connect();
    // Never throws: a missing printer shows on the status line and queued slips wait for it.
    const printerUp = this.printing.start();
    await Promise.all([readerUp, printerUp, this.link.waitOnline(this.config.host.connectTimeoutMs)]);
    this.run.walCheckpoints.start();
    // Last, so a catch-up settlement finds the link and the queues already running.
    this.jobs.start();
    this.armRecovery();
  }

  /** The same recovery as start-up, again whenever no payment is running. */
  private armRecovery(): void {
    const { clock, devices, log } = this.run;
    this.recoverTimer = clock.setTimeout(() => {
      this.recoverTimer = undefined;
      if (this.stopping) return;
      if (!devices.busy) {
        try {
          this.terminal.recover();
        } catch (err) {
          // Storage still unavailable: the stranded payment waits for the next round.
          log.warn({ err: storageFailure(err) ?? err }, 'recovery could not run; retrying');
        }
      }
      this.armRecovery();
    }, this.run.recoverEveryMs);
    this.recoverTimer.unref?.();
  }

  async stop(graceMs = 10_000): Promise<void> {
    const { clock, devices } = this.run;
    this.stopping = true;
    this.terminal.refuseNewPayments();
    if (this.recoverTimer) clock.clearTimeout(this.recoverTimer);
    this.recoverTimer = undefined;
    await this.jobs.stop(this.config.jobs.stopGraceMs);
    if (devices.busy) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        devices.idle(),
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
    this.run.walCheckpoints.stop();
    await this.upstream?.stop();
    this.store.close();
  }
}
