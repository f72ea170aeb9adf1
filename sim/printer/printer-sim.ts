import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import { encodeStatusByte, type PrinterStatus } from '../../drivers/printer/status.js';
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

/**
 * An ESC/POS receipt printer on a real pty: decodes what it receives back to text (and
 * keeps the raw bytes), answers DLE EOT status requests from its simulated state.
 */
export class PrinterSim extends EventEmitter {
  private port: SerialPort | undefined;
  private readonly decoder = new EscPosDecoder();
  private text = '';
  private qr: string[] = [];
  private raw: Buffer[] = [];
  readonly receipts: PrintedReceipt[] = [];
  readonly state: PrinterStatus = {
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

  constructor(private readonly options: PrinterSimOptions) {
    super();
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.options.path, baudRate: this.options.baudRate ?? 115200, autoOpen: false, lock: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('data', (chunk: Buffer) => this.onData(chunk));
    port.on('error', () => undefined);
    this.port = port;
  }

  async stop(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  setPaperOut(out: boolean): void {
    this.state.paperEnd = out;
    this.state.online = !out && !this.state.coverOpen;
  }

  setCoverOpen(open: boolean): void {
    this.state.coverOpen = open;
    this.state.online = !open && !this.state.paperEnd;
  }

  private printable(): boolean {
    return this.state.online && !this.state.paperEnd && !this.state.coverOpen;
  }

  private onData(chunk: Buffer): void {
    if (this.silent) return;
    for (const ev of this.decoder.push(chunk)) {
      switch (ev.type) {
        case 'status-request':
          this.port?.write(Buffer.from([encodeStatusByte(ev.n, this.state)]));
          break;
        case 'text':
          if (this.printable()) this.text += ev.text;
          break;
        case 'qr':
          if (this.printable()) this.qr.push(ev.data);
          break;
        case 'cut':
          this.finishReceipt();
          break;
        default:
          break;
      }
    }
    if (this.printable()) this.raw.push(Buffer.from(chunk));
  }

  private finishReceipt(): void {
    if (!this.printable() || this.text.length === 0) return;
    const receipt: PrintedReceipt = { text: this.text, qr: this.qr, raw: Buffer.concat(this.raw), at: Date.now() };
    this.text = '';
    this.qr = [];
    this.raw = [];
    this.receipts.push(receipt);
    this.emit('receipt', receipt);
  }
}
