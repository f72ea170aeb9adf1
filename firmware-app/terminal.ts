import { join, isAbsolute } from 'node:path';
import { CardReaderClient } from '../drivers/card-reader/client.js';
import { PrinterClient } from '../drivers/printer/client.js';
import { describeStatus } from '../drivers/printer/status.js';
import type { PortFactory } from '../drivers/serial/port-factory.js';
import type { Config } from './config/schema.js';
import { systemClock, type Clock } from '../drivers/base/clock.js';
import { isPosError } from '../drivers/base/errors.js';
import { explain } from './declines/catalog.js';
import { HostLink } from './host/link.js';
import type { Logger } from './logging/logger.js';
import { Journal, type Transaction } from './payments/journal.js';
import { SaleFlow, type SaleOutcome, type SaleProgress } from './payments/sale.js';
import { layoutReceipt, renderReceipt, type ReceiptData } from './receipts/layout.js';
import { openDatabase, type Db } from './store/db.js';

export interface TerminalDeps {
  logger: Logger;
  clock?: Clock;
  portFactory?: PortFactory;
}

export interface TerminalStatus {
  host: string;
  reader: string;
  printer: string;
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
  readonly sales: SaleFlow;
  private readonly clock: Clock;
  private readonly log: Logger;
  private current: Promise<unknown> | undefined;
  private stopping = false;

  constructor(
    readonly config: Config,
    deps: TerminalDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger.child('terminal');
    this.db = openDatabase(resolveDataPath(config, 'pos-companion.db'));
    this.journal = new Journal(this.db, this.clock);
    this.reader = new CardReaderClient(
      { path: config.reader.path, baudRate: config.reader.baudRate, commandTimeoutMs: config.reader.commandTimeoutMs },
      { logger: deps.logger.child('reader'), clock: this.clock, portFactory: deps.portFactory },
    );
    this.printer = new PrinterClient(
      { path: config.printer.path, baudRate: config.printer.baudRate, statusTimeoutMs: config.printer.statusTimeoutMs, writeMarginMs: 2000 },
      { logger: deps.logger.child('printer'), clock: this.clock, portFactory: deps.portFactory },
    );
    this.link = new HostLink(
      {
        address: config.host.address,
        port: config.host.port,
        connectTimeoutMs: config.host.connectTimeoutMs,
        reconnectMinMs: config.host.reconnectMinMs,
        reconnectMaxMs: config.host.reconnectMaxMs,
      },
      { logger: deps.logger.child('host'), clock: this.clock },
    );
    this.sales = new SaleFlow({
      db: this.db,
      journal: this.journal,
      reader: this.reader,
      link: this.link,
      clock: this.clock,
      logger: deps.logger,
      settings: {
        identity: { terminalId: config.terminal.id, merchantId: config.terminal.merchantId, nii: config.host.nii },
        currency: config.terminal.currency,
        maxAmount: config.terminal.maxAmount,
        readTimeoutMs: config.reader.readTimeoutMs,
        responseTimeoutMs: config.host.responseTimeoutMs,
      },
    });
  }

  /** Crash recovery, then devices and host link. Resolves when everything had its first try. */
  async start(): Promise<void> {
    this.recover();
    this.link.start();
    const readerUp = this.reader.connect();
    const printerUp = this.printer.connect().then(
      () => this.printer.queryStatus().catch((err: unknown) => this.log.warn({ err }, 'printer status unavailable')),
      (err: unknown) => this.log.warn({ err }, 'printer not available'),
    );
    await Promise.all([readerUp, printerUp, this.link.waitOnline(this.config.host.connectTimeoutMs)]);
  }

  /**
   * A 0200 whose answer never arrived before the process died may have been posted: it
   * becomes reversal_pending, never re-sent.
   */
  private recover(): void {
    for (const txn of this.journal.inState('online_sent')) {
      this.journal.transition(txn.id, 'reversal_pending', { declineCode: 'HOST_TIMEOUT' }, { reason: 'recovered at start-up' }, 'online_sent');
      this.log.warn({ txn: txn.id, stan: txn.stan }, 'in-flight sale found at start-up; reversal pending');
    }
  }

  status(): TerminalStatus {
    const ps = this.printer.status;
    return {
      host: this.link.state,
      reader: this.reader.state,
      printer: !this.printer.connected ? 'disconnected' : ps ? describeStatus(ps) : 'unknown',
    };
  }

  /** Runs one sale and prints its receipts. Only one sale at a time. */
  async sale(amount: number, onProgress?: (p: SaleProgress) => void): Promise<SaleOutcome & { printed: boolean; printError?: string }> {
    if (this.stopping) throw new Error('terminal is shutting down');
    if (this.current) throw new Error('a sale is already in progress');
    const run = (async () => {
      const outcome = await this.sales.sale(amount, onProgress);
      const print = await this.printReceipt(outcome.transaction, outcome.code);
      return { ...outcome, ...print };
    })();
    this.current = run;
    try {
      return await run;
    } finally {
      this.current = undefined;
    }
  }

  receiptData(txn: Transaction, code: string | null, copy: ReceiptData['copy']): ReceiptData {
    const approved = txn.state === 'approved';
    return {
      merchantName: this.config.terminal.merchantName,
      terminalId: this.config.terminal.id,
      merchantId: this.config.terminal.merchantId,
      at: new Date(txn.updatedAt),
      type: txn.type,
      amount: txn.amount,
      currency: txn.currency,
      last4: txn.last4,
      entryMode: txn.entryMode,
      authCode: txn.authCode,
      rrn: txn.rrn,
      stan: txn.stan,
      result: approved ? 'APPROVED' : 'DECLINED',
      declineText: approved || !code ? undefined : explain(code).cashier[this.config.terminal.language],
      copy,
    };
  }

  private async printReceipt(txn: Transaction, code: string | null): Promise<{ printed: boolean; printError?: string }> {
    if (!txn.last4 && txn.state === 'declined_local') return { printed: false };
    try {
      const bytes = renderReceipt(layoutReceipt(this.receiptData(txn, code, 'CUSTOMER COPY')), this.config.printer.widthMm);
      await this.printer.print(bytes);
      return { printed: true };
    } catch (err) {
      const message = isPosError(err) ? err.message : String(err);
      this.log.warn({ err, txn: txn.id }, 'receipt not printed');
      return { printed: false, printError: message };
    }
  }

  /** Lets an in-flight sale finish (up to graceMs); whatever is still in flight stays parked in the journal. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.current) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.current.catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await Promise.allSettled([this.reader.close(), this.printer.close(), this.link.stop()]);
    this.db.close();
  }
}
