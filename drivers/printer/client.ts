import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../base/clock.js';
import { systemClock } from '../base/clock.js';
import type { Logger } from '../base/logger.js';
import { closePort, defaultPortFactory, openPort, type PortFactory, type SerialLink } from '../serial/port-factory.js';
import { PrinterDisconnectedError, PrinterNotReadyError, PrinterTimeoutError } from './errors.js';
import { combineStatus, decodeStatusByte, describeStatus, DLE_EOT, isClean, type PrinterStatus } from './status.js';

export interface PrinterOptions {
  path: string;
  baudRate: number;
  /** Time for one DLE EOT answer. */
  statusTimeoutMs: number;
  /** Extra time allowed for the job bytes to leave, on top of their wire time. */
  writeMarginMs: number;
}

/**
 * Receipt printer driver: ESC/POS bytes out, real-time status in. A job counts as printed
 * only when the status read after it is clean, because many printers accept bytes
 * happily with no paper.
 */
export class PrinterClient extends EventEmitter {
  private port: SerialLink | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private waiter:
    | { expect: readonly string[]; got: number[]; resolve: (b: number[]) => void; reject: (e: Error) => void; timer: TimerHandle }
    | undefined;
  private lastStatus: PrinterStatus | undefined;

  constructor(
    readonly options: PrinterOptions,
    private readonly deps: { logger: Logger; clock?: Clock; portFactory?: PortFactory },
  ) {
    super();
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  get connected(): boolean {
    return this.port?.isOpen === true;
  }

  /** Last status seen, for the cashier's status line. */
  get status(): PrinterStatus | undefined {
    return this.lastStatus;
  }

  async connect(): Promise<void> {
    const port = await openPort(this.deps.portFactory ?? defaultPortFactory, this.options.path, this.options.baudRate);
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', (err: Error) => this.onLost(port, err.message));
    port.on('close', () => this.onLost(port, 'port closed'));
    this.port = port;
  }

  /** A status answer still awaited fails at once: nobody is left to answer it. */
  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    this.failWaiter(new PrinterDisconnectedError(this.options.path, 'closed'));
    if (port) await closePort(port);
  }

  /** Reads all four real-time status bytes. */
  queryStatus(): Promise<PrinterStatus> {
    return this.exclusive(() => this.readStatus());
  }

  /**
   * Prints one job: status before (refuses to send into a printer that is not ready),
   * the bytes, then status after; resolves only when the after-status is clean. A job given
   * as a function is made once the status request has left, while the printer answers it,
   * so bytes laid out just in time add nothing to the wait for the first byte on paper.
   */
  print(job: Buffer | (() => Buffer)): Promise<PrinterStatus> {
    return this.exclusive(async () => {
      const asked = this.readStatus();
      let bytes: Buffer;
      try {
        bytes = typeof job === 'function' ? job() : job;
      } catch (err) {
        await asked.catch(() => undefined);
        throw err;
      }
      const before = await asked;
      if (!isClean(before)) throw new PrinterNotReadyError('before', before, describeStatus(before));
      await this.write(bytes);
      const after = await this.readStatus();
      if (!isClean(after)) throw new PrinterNotReadyError('after', after, describeStatus(after));
      return after;
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * The four requests go out in one write and the printer answers them in order, one byte
   * each: one round trip on the line instead of four, which a receipt's print time feels
   * twice (before and after the job).
   */
  private async readStatus(): Promise<PrinterStatus> {
    const ns = [1, 2, 3, 4] as const;
    // Listen before writing: the answers can arrive before the write's drain callback runs.
    const answers = this.nextBytes(ns.map((n) => `DLE EOT ${n}`));
    // The link can fail while the requests are still being written; the await below reports it.
    answers.catch(() => undefined);
    await this.write(Buffer.concat(ns.map((n) => DLE_EOT(n)))).catch((err: unknown) => {
      this.cancelWaiter();
      throw err;
    });
    const bytes = await answers;
    const status = combineStatus(ns.map((n, i) => decodeStatusByte(n, bytes[i]!)));
    const changed = JSON.stringify(status) !== JSON.stringify(this.lastStatus);
    this.lastStatus = status;
    if (changed) this.emit('status', status);
    return status;
  }

  private write(bytes: Buffer): Promise<void> {
    const port = this.port;
    if (!port) return Promise.reject(new PrinterDisconnectedError(this.options.path, 'not connected'));
    const wireMs = Math.ceil((bytes.length * 10 * 1000) / this.options.baudRate);
    const timeoutMs = wireMs + this.options.writeMarginMs;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new PrinterTimeoutError('a write', timeoutMs)), timeoutMs);
      port.write(bytes, (err) => {
        if (err) {
          this.clock.clearTimeout(timer);
          reject(new PrinterDisconnectedError(this.options.path, err.message));
          return;
        }
        port.drain((drainErr) => {
          this.clock.clearTimeout(timer);
          if (drainErr) reject(new PrinterDisconnectedError(this.options.path, drainErr.message));
          else resolve();
        });
      });
    });
  }

  /** One answer byte per request, in order; each byte has `statusTimeoutMs` to arrive. */
  private nextBytes(expect: readonly string[]): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const w = { expect, got: [] as number[], resolve, reject, timer: this.armByteTimer(expect[0]!) };
      this.waiter = w;
    });
  }

  private armByteTimer(what: string): TimerHandle {
    return this.clock.setTimeout(() => {
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(new PrinterTimeoutError(what, this.options.statusTimeoutMs));
    }, this.options.statusTimeoutMs);
  }

  private cancelWaiter(): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      this.clock.clearTimeout(w.timer);
      w.resolve([]);
    }
  }

  private onData(chunk: Buffer): void {
    for (const byte of chunk) {
      const w = this.waiter;
      if (!w) {
        this.deps.logger.debug({ byte }, 'unsolicited byte from printer ignored');
        continue;
      }
      this.clock.clearTimeout(w.timer);
      w.got.push(byte);
      if (w.got.length < w.expect.length) {
        w.timer = this.armByteTimer(w.expect[w.got.length]!);
        continue;
      }
      this.waiter = undefined;
      w.resolve(w.got);
    }
  }

  private onLost(port: SerialLink, reason: string): void {
    if (this.port !== port) return;
    this.port = undefined;
    this.deps.logger.warn({ path: this.options.path, reason }, 'printer link lost');
    this.failWaiter(new PrinterDisconnectedError(this.options.path, reason));
  }

  private failWaiter(err: Error): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      this.clock.clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
