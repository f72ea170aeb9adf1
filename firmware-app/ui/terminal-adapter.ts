import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, sleep, type Clock } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import type { Config } from '../config/schema.js';
import { explain } from '../declines/catalog.js';
import type { Logger, LogLevel } from '../logging/logger.js';
import { scrubValue } from '../logging/redact.js';
import { TransactionNotFoundError, type Transaction } from '../payments/journal.js';
import type { PaymentOutcome, PaymentProgress } from '../payments/sale.js';
import { resolveDataPath, type Terminal } from '../terminal.js';
import type { Language } from './cashier/strings.js';
import type { LoginResult, PinGuard } from './diagnostics/pin.js';
import { logLine, maskSecrets, readVersion, tailFile } from './diagnostics/process-info.js';
import { batchReports } from './batch-reports.js';
import { formatDateTime } from './format.js';
import { loadOnDemand } from '../load-on-demand.js';
import {
  FeatureUnavailableError,
  type AlertView,
  type AuditEntry,
  type BatchReports,
  type BundleResult,
  type CardTestResult,
  type DeclineStat,
  type DeviceInfo,
  type DrainProgress,
  type DrainResult,
  type EchoResult,
  type JobRunView,
  type PaymentResult,
  type Progress,
  type QueueInfo,
  type QueueName,
  type StatusSnapshot,
  type TerminalPort,
  type TxnQuery,
  type TxnView,
} from './terminal-port.js';

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function view(t: Transaction): TxnView {
  return {
    id: t.id,
    type: t.type,
    state: t.state,
    amount: t.amount,
    currency: t.currency,
    last4: t.last4,
    authCode: t.authCode,
    rrn: t.rrn,
    stan: t.stan,
    declineCode: t.declineCode,
    createdAt: t.createdAt,
  };
}

/** The engine's steps as the cashier sees them; after the host answers, the slip prints. */
function progressTo(onProgress: (p: Progress) => void): (p: PaymentProgress) => void {
  return (p) => onProgress(p === 'done' ? 'printing' : p);
}

export interface AdapterOptions {
  /** The process's root logger, whose level the technician may change at run time. */
  logger?: Logger;
  clock?: Clock;
  /** Poll interval of a forced drain's progress. */
  drainPollMs?: number;
  /** Checks the supervisor PIN of refunds and voids; none: no supervisor PIN is set up. */
  supervisor?: PinGuard;
  /** When the terminal started (uptime); the adapter may be made later, at the first session. Default: now. */
  startedAt?: number;
}

/** `TerminalPort` over the running `Terminal`: the only place the UIs touch the product. */
export class TerminalAdapter implements TerminalPort {
  private readonly clock: Clock;
  private readonly startedAt: number;
  private operator: string | undefined;

  constructor(
    private readonly terminal: Terminal,
    private readonly options: AdapterOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.startedAt = options.startedAt ?? this.clock.now();
  }

  private get cfg(): Config {
    return this.terminal.config;
  }

  get currency() {
    return this.cfg.terminal.currency;
  }

  get language() {
    return this.cfg.terminal.language;
  }

  setSlipLanguage(language: Language): void {
    this.terminal.setSlipLanguage(language);
  }

  get timeouts() {
    return { cardMs: this.cfg.reader.readTimeoutMs, hostMs: this.cfg.host.responseTimeoutMs };
  }

  get supervisorRequired() {
    return this.cfg.ui.supervisorRequired;
  }

  signIn(operator: string): void {
    this.operator = operator;
  }

  checkSupervisor(pin: string): LoginResult {
    return this.options.supervisor ? this.options.supervisor.check(pin) : { ok: false, reason: 'not-configured' };
  }

  showCustomer(line1: string, line2?: string): void {
    this.terminal.showCustomer(line1, line2);
  }

  status(): StatusSnapshot {
    const s = this.terminal.status();
    return { host: s.host, reader: s.reader, printer: s.printer, safDepth: s.saf.depth };
  }

  /** A queued slip means the print queue is already talking to the printer: its answer will do. */
  async pollDevices(): Promise<void> {
    await this.terminal.pollPrinter();
  }

  validateAmount(amount: number): void {
    this.terminal.validateAmount(amount);
  }

  sale(amount: number, onProgress: (p: Progress) => void): Promise<PaymentResult> {
    return this.payment(this.terminal.sale(amount, progressTo(onProgress), { operator: this.operator }));
  }

  refund(amount: number, originalId: number | undefined, onProgress: (p: Progress) => void): Promise<PaymentResult> {
    return this.payment(this.terminal.refund(amount, { originalId, operator: this.operator }, progressTo(onProgress)));
  }

  voidTransaction(id: number, onProgress: (p: Progress) => void): Promise<PaymentResult> {
    return this.payment(this.terminal.void(id, progressTo(onProgress), { operator: this.operator }));
  }

  private async payment(run: Promise<PaymentOutcome & { printed: boolean; printError?: string }>): Promise<PaymentResult> {
    const r = await run;
    const offline = r.result === 'offline_approved';
    return {
      approved: r.result === 'approved' || offline,
      cancelled: r.result === 'cancelled',
      notCompleted: r.result === 'not_completed',
      offline,
      code: r.code,
      retry: r.retry,
      transaction: view(r.transaction),
      printed: r.printed,
      printError: r.printError,
    };
  }

  cancel(): Promise<'cancelling' | 'too-late' | 'idle'> {
    return this.terminal.cancel();
  }

  whyNotVoidable(id: number): string | null {
    return this.terminal.whyNotVoidable(id);
  }

  async reprint(id: number): Promise<{ printed: boolean; error?: string }> {
    const r = await this.terminal.reprint(id);
    return r.printed ? { printed: true } : { printed: false, error: r.error?.message ?? `printer ${r.printer}` };
  }

  transaction(id: number): TxnView | undefined {
    try {
      return view(this.terminal.transaction(id));
    } catch (err) {
      if (err instanceof TransactionNotFoundError) return undefined;
      throw err;
    }
  }

  /** The payment of the last slip that came out of the printer: what "reprint last" gives the customer again. */
  lastTransaction(): TxnView | undefined {
    const txn = this.terminal.lastPrintedPayment();
    return txn ? view(txn) : undefined;
  }

  /** The last payment the cashier was told DECLINED; a cancel is not one. */
  lastDecline(): TxnView | undefined {
    const txn = this.terminal.lastDecline();
    return txn ? view(txn) : undefined;
  }

  find(q: TxnQuery): TxnView[] {
    return this.terminal.find(q).map(view);
  }

  batchReports(): BatchReports {
    return batchReports(this.terminal, this.currency);
  }

  async deviceInfo(): Promise<DeviceInfo> {
    const c = this.cfg;
    const reader: DeviceInfo['reader'] = { path: c.reader.path, state: this.terminal.status().reader };
    try {
      Object.assign(reader, await this.terminal.readerInfo());
    } catch (err) {
      reader.error = isPosError(err) ? err.code : 'ERROR';
    }
    return {
      terminalId: c.terminal.id,
      merchantId: c.terminal.merchantId,
      version: readVersion(),
      node: process.version,
      uptimeSeconds: Math.round((this.clock.now() - this.startedAt) / 1000),
      schemaVersion: this.terminal.schemaVersion(),
      reader,
      printer: { path: c.printer.path, state: this.terminal.status().printer },
      host: { address: c.host.address, port: c.host.port, state: this.terminal.status().host },
    };
  }

  async cardReadTest(): Promise<CardTestResult> {
    try {
      const card = await this.terminal.cardReadTest();
      return { ok: true, maskedPan: card.maskedPan, entryMode: card.entryMode };
    } catch (err) {
      return { ok: false, error: isPosError(err) ? `${err.code}: ${err.message}` : String(err) };
    }
  }

  async testPrint(): Promise<{ printed: boolean; error?: string }> {
    const c = this.cfg;
    // The encoder and its code pages are loaded when something prints, not at start-up.
    const { EscPosBuilder } = await loadOnDemand('the printer encoder', () => import('../../drivers/printer/escpos.js'));
    const bytes = new EscPosBuilder()
      .init()
      .align('center')
      .bold(true)
      .line('TEST PRINT')
      .bold(false)
      .line(c.terminal.merchantName)
      .line(`TID ${c.terminal.id}  MID ${c.terminal.merchantId}`)
      .line(formatDateTime(this.clock.now()))
      .line('0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ')
      .feed(3)
      .cut()
      .bytes();
    const report = await this.terminal.testPrint(bytes);
    return report.printed ? { printed: true } : { printed: false, error: report.error?.message ?? `printer ${report.printer}` };
  }

  async hostEcho(): Promise<EchoResult> {
    const started = this.clock.now();
    try {
      const ok = await this.terminal.hostEcho();
      return ok
        ? { ok, rttMs: this.clock.now() - started, responseCode: '00' }
        : { ok, rttMs: this.clock.now() - started, error: 'no answer or refused' };
    } catch (err) {
      return { ok: false, rttMs: this.clock.now() - started, error: isPosError(err) ? `${err.code}: ${err.message}` : String(err) };
    }
  }

  queues(): QueueInfo[] {
    const d = this.terminal.queueDepths();
    return [
      { name: 'saf', ...d.saf },
      { name: 'reversals', ...d.reversals },
      { name: 'outbox', ...d.outbox },
      { name: 'print', ...d.print },
    ];
  }

  private count(queue: QueueName): number {
    return this.queues().find((q) => q.name === queue)?.count ?? 0;
  }

  /** Starts one delivery pass of a queue; what it sends is reported by the queue count. */
  private kick(queue: QueueName): Promise<unknown> {
    if (queue === 'outbox' && !this.terminal.upstreamConfigured) throw new FeatureUnavailableError('outbox delivery (no TMS configured)');
    return this.terminal.drainQueue(queue);
  }

  /**
   * Forces a queue to deliver now and reports progress from its depth, so the bar shows
   * what actually left the terminal. Pass after pass until the queue is empty or a pass
   * moves nothing (host still down, paper out), then reports what is left.
   */
  async drain(queue: QueueName, onProgress: (p: DrainProgress) => void): Promise<DrainResult> {
    const total = this.count(queue);
    const pollMs = this.options.drainPollMs ?? 250;
    let remaining = total;
    onProgress({ done: 0, total });
    while (remaining > 0) {
      const before = remaining;
      let settled = false;
      const pass = this.kick(queue).then(
        () => undefined,
        () => undefined,
      );
      void pass.then(() => {
        settled = true;
      });
      while (!settled) {
        await Promise.race([pass, sleep(this.clock, pollMs)]);
        remaining = this.count(queue);
        onProgress({ done: Math.max(0, total - remaining), total });
      }
      if (remaining === 0 || remaining >= before) break;
    }
    return { done: Math.max(0, total - remaining), total, remaining };
  }

  declineStats(): DeclineStat[] {
    return this.terminal.declineStatistics().byCode.map((d) => ({
      code: d.code,
      count: d.count,
      category: d.category,
      text: explain(d.code).cashier.en,
    }));
  }

  alerts(): AlertView[] {
    return this.terminal.alerts(30).map((a) => ({
      id: a.id,
      severity: a.severity,
      message: a.message,
      raisedAt: a.raisedAt,
      clearedAt: a.clearedAt,
    }));
  }

  jobs(): JobRunView[] {
    return this.terminal
      .jobHistory(15)
      .map((r) => ({ job: r.job, startedAt: r.startedAt, finishedAt: r.finishedAt, outcome: r.outcome, error: r.error }));
  }

  jobNames(): string[] {
    return this.terminal.jobNames();
  }

  async runJob(name: string): Promise<string> {
    if (!this.jobNames().includes(name)) throw new FeatureUnavailableError(`job ${name}`);
    const run = await this.terminal.runJob(name);
    return `${run.outcome}${run.error ? `: ${run.error}` : ''}`;
  }

  setLogLevel(level: string): string {
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      throw new PosError('LOG_LEVEL_INVALID', `log level must be one of ${LOG_LEVELS.join(', ')}`, { level: String(level).slice(0, 16) });
    }
    if (!this.options.logger) throw new FeatureUnavailableError('changing the log level');
    this.options.logger.setLevel(level as LogLevel);
    return level;
  }

  logTail(lines: number): string[] {
    if (this.cfg.log.target !== 'file') return [];
    try {
      const text = tailFile(resolveDataPath(this.cfg, this.cfg.log.file), 256 * 1024);
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-lines)
        .map(logLine);
    } catch {
      return [];
    }
  }

  config(): Record<string, unknown> {
    return maskSecrets(this.cfg) as Record<string, unknown>;
  }

  /**
   * A support bundle: status, queues, statistics, alerts, jobs, masked configuration, the
   * log tail and recent transactions stripped of every card field (no PAN, token, last four).
   */
  async exportBundle(): Promise<BundleResult> {
    const now = this.clock.now();
    const recent = this.terminal.recent(50).map((t) => ({
      id: t.id,
      type: t.type,
      state: t.state,
      amount: t.amount,
      currency: t.currency,
      stan: t.stan,
      responseCode: t.responseCode,
      declineCode: t.declineCode,
      createdAt: t.createdAt,
      updatedAt: t.updatedAt,
    }));
    const bundle = {
      createdAt: new Date(now).toISOString(),
      device: await this.deviceInfo(),
      status: this.status(),
      queues: this.queues(),
      declines: this.declineStats(),
      alerts: this.alerts(),
      jobs: this.jobs(),
      config: this.config(),
      transactions: recent,
      log: this.logTail(300),
    };
    const text = JSON.stringify(scrubValue(bundle), null, 2);
    const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const path = join(resolveDataPath(this.cfg, '.'), `diagnostics-${this.cfg.terminal.id.trim()}-${stamp}.json`);
    writeFileSync(path, text, { mode: 0o600 });
    return { path, bytes: Buffer.byteLength(text) };
  }

  audit(entry: AuditEntry): void {
    this.terminal.audit(entry);
  }
}
