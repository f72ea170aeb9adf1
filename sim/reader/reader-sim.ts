import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import { encodeFrame, parseFrame, type Frame, FrameError, dec64 } from '../../drivers/card-reader/frame.js';
import { LineFramer } from '../../drivers/serial/line-framer.js';
import { cardByName, DEFAULT_CARD, encryptCardData, maskPan, panToken, type TestCard } from '../cards.js';

export interface ReaderSimOptions {
  /** The simulator's end of the pty pair. */
  path: string;
  baudRate?: number;
  /** Delay between READ and the card being "tapped" when a card is queued or auto-presented. */
  tapDelayMs?: number;
  /** Present the default card automatically on READ when nothing is queued. */
  autoPresent?: boolean;
}

type CardAction = { card: TestCard } | { cancel: true };

/**
 * A card reader speaking docs/protocols/card-reader.md on a real pty. Tests script what
 * the "cardholder" does (`presentCard`, `cancelByCardholder`) and which faults occur.
 */
export class ReaderSim extends EventEmitter {
  private port: SerialPort | undefined;
  private framer: LineFramer | undefined;
  private eventSeq = 0;
  private readonly actions: CardAction[] = [];
  private reading: { req: Frame; timer: NodeJS.Timeout | undefined } | undefined;
  private display: [string, string] = ['', ''];
  readonly received: Frame[] = [];
  tapDelayMs: number;
  autoPresent: boolean;

  constructor(private readonly options: ReaderSimOptions) {
    super();
    this.tapDelayMs = options.tapDelayMs ?? 150;
    this.autoPresent = options.autoPresent ?? true;
  }

  get screen(): [string, string] {
    return [...this.display];
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.options.path, baudRate: this.options.baudRate ?? 115200, autoOpen: false, lock: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const framer = new LineFramer({ maxLength: 1024 });
    port.pipe(framer);
    framer.on('data', (line: string) => this.onLine(line));
    framer.on('overlong', () => this.send({ seq: '0', command: 'NAK', fields: ['OVERLONG'] }));
    port.on('error', () => undefined);
    this.port = port;
    this.framer = framer;
  }

  async stop(): Promise<void> {
    if (this.reading?.timer) clearTimeout(this.reading.timer);
    this.reading = undefined;
    const port = this.port;
    this.port = undefined;
    if (port && this.framer) port.unpipe(this.framer);
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Queue the card the next READ will get. */
  presentCard(name: string): void {
    this.actions.push({ card: cardByName(name) });
  }

  /** The next READ is cancelled by the cardholder pressing the reader's cancel key. */
  cancelByCardholder(): void {
    this.actions.push({ cancel: true });
  }

  private send(frame: Frame): void {
    this.port?.write(encodeFrame(frame));
  }

  private event(fields: string[]): void {
    this.eventSeq = this.eventSeq >= 999 ? 1 : this.eventSeq + 1;
    this.send({ seq: `E${this.eventSeq}`, command: 'EVENT', fields });
  }

  private ok(req: Frame, fields: string[] = []): void {
    this.send({ seq: req.seq, command: req.command, fields: ['OK', ...fields] });
  }

  private err(req: Frame, code: string): void {
    this.send({ seq: req.seq, command: req.command, fields: ['ERR', code] });
  }

  private onLine(line: string): void {
    let frame: Frame;
    try {
      frame = parseFrame(line);
    } catch (e) {
      if (e instanceof FrameError) {
        this.send({ seq: e.seq ?? '0', command: 'NAK', fields: [e.code === 'FRAME_CHECKSUM' ? 'CHECKSUM' : 'SYNTAX'] });
        return;
      }
      throw e;
    }
    if (frame.command === 'NAK') return;
    this.received.push(frame);
    this.emit('command', frame);
    this.handle(frame);
  }

  private handle(req: Frame): void {
    switch (req.command) {
      case 'INFO':
        this.ok(req, ['SIMCO', 'SR-100', 'SIM00001', '1.0.0']);
        return;
      case 'STATUS':
        this.ok(req, [this.reading ? 'READING' : 'IDLE', '0']);
        return;
      case 'READ':
        this.startRead(req);
        return;
      case 'PIN':
        this.ok(req, ['BYPASSED']);
        return;
      case 'CANCEL':
        if (this.reading) this.finishRead({ cancel: true });
        this.ok(req);
        return;
      case 'DISPLAY':
        this.display = [dec64(req.fields[0] ?? ''), dec64(req.fields[1] ?? '')];
        this.ok(req);
        return;
      case 'BEEP':
      case 'RESET':
        this.ok(req);
        return;
      default:
        this.err(req, 'UNKNOWN_COMMAND');
    }
  }

  private startRead(req: Frame): void {
    if (this.reading) {
      this.err(req, 'BUSY');
      return;
    }
    const timeoutMs = Number(req.fields[2] ?? '30000');
    const action = this.actions.shift() ?? (this.autoPresent ? { card: cardByName(DEFAULT_CARD) } : undefined);
    const timer = action
      ? setTimeout(() => this.finishRead(action), this.tapDelayMs)
      : setTimeout(() => this.finishRead(undefined), timeoutMs);
    timer.unref();
    this.reading = { req, timer };
  }

  private finishRead(action: CardAction | undefined): void {
    const reading = this.reading;
    if (!reading) return;
    if (reading.timer) clearTimeout(reading.timer);
    this.reading = undefined;
    const req = reading.req;
    if (!action) {
      this.err(req, 'TIMEOUT');
      return;
    }
    if ('cancel' in action) {
      this.event(['KEY', 'CANCEL']);
      this.err(req, 'CANCELLED');
      return;
    }
    const card = action.card;
    this.event([card.entryMode === 'CTLS' ? 'CARD_TAPPED' : 'CARD_INSERTED']);
    if (card.unreadable) {
      this.err(req, 'CARD_READ_FAILED');
      return;
    }
    const blob = encryptCardData({ pan: card.pan, expiry: card.expiry, entryMode: card.entryMode });
    this.ok(req, [maskPan(card.pan), card.expiry, card.entryMode, panToken(card.pan), blob.toString('base64')]);
    this.emit('card-read', card.name);
  }
}
