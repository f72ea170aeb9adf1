import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import { statusByte, type PrinterState } from './status-byte.js';
import { EscPosDecoder } from './escpos-decoder.js';

export interface PrintedReceipt {
  text: string;
  qr: string[];
  raw: Buffer;
  at: number;
}

export interface PrinterSimOptions {
  path: string;
  baudRate?: number;
}

/** Bits on the wire per byte: start bit, 8 data bits, stop bit (8N1). */
const BITS_PER_BYTE = 10;

/**
 * An ESC/POS receipt printer on a real pty: decodes what it receives back to text (and
 * keeps the raw bytes), answers DLE EOT status requests from its simulated state.
 *
 * Faults, scriptable from tests and from `npm run sim`: paper out (now, or after N more
 * bytes of a job), cover open, offline, and silent (swallows everything, answers nothing).
 * While it cannot print it drops what it receives, like a printer with no buffer; it still
 * answers DLE EOT, as real printers do. Whatever was on paper when printing stopped is
 * torn off as a partial slip ('partial' event, `partials`), never counted as a receipt.
 *
 * A pty delivers bytes as fast as they are written, whatever the baud rate, so the printer
 * keeps its own wire model: input is taken in no faster than `wireBaudRate` allows (10 bits
 * a byte), and a DLE EOT is answered only once the bytes before it have arrived. That is
 * what makes the time a job takes comparable with a real serial line.
 *
 * Events: 'receipt' and 'partial' (PrintedReceipt), 'paper-out' (after a scripted run-out),
 * 'data' (Buffer: bytes as they come off the pty, before the wire model).
 */
export class PrinterSim extends EventEmitter {
  private port: SerialPort | undefined;
  private readonly decoder = new EscPosDecoder();
  private text = '';
  private qr: string[] = [];
  private raw: Buffer[] = [];
  /** Bytes left before the roll runs out; undefined while the roll is not scripted to end. */
  private paperLeft: number | undefined;
  private offline = false;
  readonly receipts: PrintedReceipt[] = [];
  /** Slips cut short by paper out, cover open or going offline. */
  readonly partials: PrintedReceipt[] = [];
  readonly state: PrinterState = {
    online: true,
    coverOpen: false,
    paperNearEnd: false,
    paperEnd: false,
    cutterError: false,
    unrecoverableError: false,
    autoRecoverableError: false,
    recoverableError: false,
    drawerOpen: false,
  };
  /** When true the printer swallows everything and answers nothing. */
  silent = false;
  /** The line speed the wire model enforces; 0 takes bytes as fast as the pty delivers them. */
  wireBaudRate: number;
  /** When the bytes received so far will all have arrived over the modelled line (performance.now() ms). */
  private lineFreeAt = 0;
  private readonly onLine: { chunk: Buffer; arrivesAt: number }[] = [];
  private lineTimer: NodeJS.Timeout | undefined;
  private linePoll: NodeJS.Immediate | undefined;

  constructor(private readonly options: PrinterSimOptions) {
    super();
    this.wireBaudRate = options.baudRate ?? 115200;
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.options.path, baudRate: this.options.baudRate ?? 115200, autoOpen: false, lock: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('data', (chunk: Buffer) => this.receive(chunk));
    port.on('error', () => undefined);
    this.port = port;
  }

  async stop(): Promise<void> {
    this.cancelLineWait();
    this.onLine.length = 0;
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Paper out now (true), or a fresh roll loaded (false). */
  setPaperOut(out: boolean): void {
    this.paperLeft = undefined;
    this.state.paperEnd = out;
    this.state.paperNearEnd = out;
    this.update();
  }

  /**
   * The roll runs out after `bytes` more bytes of print data: the bytes after that are not
   * printed, and every later DLE EOT reports paper end. Because the printer reads its input
   * in order, the status check the terminal sends after a job always sees a run-out that
   * happened inside that job.
   */
  runOutOfPaperAfter(bytes: number): void {
    if (bytes <= 0) {
      this.setPaperOut(true);
      return;
    }
    this.paperLeft = bytes;
    this.state.paperNearEnd = true;
  }

  setCoverOpen(open: boolean): void {
    this.state.coverOpen = open;
    this.update();
  }

  /** Offline with no cause of its own (e.g. the feed button held, a fault being reset). */
  setOffline(offline: boolean): void {
    this.offline = offline;
    this.update();
  }

  private update(): void {
    this.state.online = !this.offline && !this.state.paperEnd && !this.state.coverOpen;
    if (!this.printable()) this.tearOff();
  }

  private printable(): boolean {
    return this.state.online && !this.state.paperEnd && !this.state.coverOpen;
  }

  private receive(chunk: Buffer): void {
    this.emit('data', chunk);
    if (this.wireBaudRate <= 0) {
      this.onData(chunk);
      return;
    }
    const now = performance.now();
    this.lineFreeAt = Math.max(now, this.lineFreeAt) + (chunk.length * BITS_PER_BYTE * 1000) / this.wireBaudRate;
    this.onLine.push({ chunk, arrivesAt: this.lineFreeAt });
    this.deliver();
  }

  /**
   * Hands over, in order, the chunks whose last byte has arrived by now. Timers fire a
   * millisecond late at best, which would slow a 3-byte status request four times over, so
   * the last stretch of a wait is polled instead.
   */
  private deliver(): void {
    this.cancelLineWait();
    while (this.onLine.length > 0) {
      const next = this.onLine[0]!;
      const wait = next.arrivesAt - performance.now();
      if (wait > 2) {
        this.lineTimer = setTimeout(() => this.deliver(), wait - 2);
        return;
      }
      if (wait > 0) {
        this.linePoll = setImmediate(() => this.deliver());
        return;
      }
      this.onLine.shift();
      this.onData(next.chunk);
    }
  }

  private cancelLineWait(): void {
    if (this.lineTimer) clearTimeout(this.lineTimer);
    if (this.linePoll) clearImmediate(this.linePoll);
    this.lineTimer = undefined;
    this.linePoll = undefined;
  }

  private onData(chunk: Buffer): void {
    if (this.silent) return;
    let rest = chunk;
    while (rest.length > 0) {
      // Only bytes that arrive while printing use up the roll.
      const left = this.printable() ? this.paperLeft : undefined;
      const take = left === undefined ? rest.length : Math.min(left, rest.length);
      this.consume(rest.subarray(0, take));
      rest = rest.subarray(take);
      if (left !== undefined && this.paperLeft !== undefined) {
        this.paperLeft -= take;
        if (this.paperLeft <= 0) {
          this.setPaperOut(true);
          this.emit('paper-out');
        }
      }
    }
  }

  private consume(bytes: Buffer): void {
    const printing = this.printable();
    // Before the events: a cut in this chunk must take the chunk's bytes with its receipt.
    if (printing) this.raw.push(Buffer.from(bytes));
    for (const ev of this.decoder.push(bytes)) {
      switch (ev.type) {
        case 'status-request':
          this.port?.write(Buffer.from([statusByte(ev.n, this.state)]));
          break;
        case 'text':
          if (printing) this.text += ev.text;
          break;
        case 'qr':
          if (printing) this.qr.push(ev.data);
          break;
        case 'cut':
          if (printing) this.finishReceipt();
          break;
        default:
          break;
      }
    }
  }

  private take(): PrintedReceipt {
    const slip: PrintedReceipt = { text: this.text, qr: this.qr, raw: Buffer.concat(this.raw), at: Date.now() };
    this.text = '';
    this.qr = [];
    this.raw = [];
    return slip;
  }

  private finishReceipt(): void {
    if (this.text.length === 0) return;
    const receipt = this.take();
    this.receipts.push(receipt);
    this.emit('receipt', receipt);
  }

  private tearOff(): void {
    if (this.text.length === 0 && this.qr.length === 0) return;
    const partial = this.take();
    this.partials.push(partial);
    this.emit('partial', partial);
  }
}
