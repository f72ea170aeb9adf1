import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import { FIELD_RULES } from './commands.js';
import { decodeText, encodeFrame, isEventSeq, parseFrame, ReaderFrameError, type ReaderFrame } from './frame.js';
import { LineSplitter } from './line-splitter.js';
import { ReaderWire } from './wire.js';
import { cardByName, DEFAULT_CARD, maskPan, panToken, type TestCard } from '../cards.js';
import { sealCardBlob } from '../crypto/card-blob.js';
import { DukptDevice } from '../crypto/dukpt.js';
import { encipherPinBlock4 } from '../crypto/pin-block-4.js';
import { TEST_INITIAL_KEY_ID, TEST_READER_INITIAL_KEY } from '../crypto/test-keys.js';
import { SimChip } from '../emv/chip.js';
import { chipCommand, CHIP_FIELD_RULES, isChipCommand } from '../emv/reader-commands.js';

export interface ReaderSimOptions {
  /** The simulator's end of the pty pair. */
  path: string;
  baudRate?: number;
  /** Delay between READ and the card being "tapped" when a card is queued or auto-presented. */
  tapDelayMs?: number;
  /** Present the default card automatically on READ when nothing is queued. */
  autoPresent?: boolean;
}

/** What the cardholder does at the next READ. */
type CardAction = { card: TestCard } | { cancel: true } | { nothing: true };
/** What the cardholder does at the next PIN. */
export type PinAction = { pin: string } | { bypass: true } | { cancel: true } | { nothing: true };

interface StoredAnswer {
  seq: string;
  wire: string;
  transmissions: number;
  commandLine: string;
  at: number;
}

interface Job {
  req: ReaderFrame;
  line: string;
  timer: NodeJS.Timeout | undefined;
}

const MAX_TRANSMISSIONS = 3;
const DUPLICATE_WINDOW_MS = 2000;
/**
 * A card reader speaking docs/protocols/card-reader.md on a real pty. Tests (and
 * `npm run sim` flags) script what the cardholder does (`presentCard`, `cancelByCardholder`,
 * `enterPin`...) and which faults the line and the reader show (`corruptAnswers`,
 * `sendGarbage`, `splitAnswers`, `mergeNextFrames`, `sendOverlong`, `hang`, `answerDelayMs`).
 */
export class ReaderSim extends EventEmitter {
  private port: SerialPort | undefined;
  private eventSeq = 0;
  private readonly cardActions: CardAction[] = [];
  private readonly pinActions: PinAction[] = [];
  private job: Job | undefined;
  private mode: 'IDLE' | 'READING' | 'PIN' = 'IDLE';
  private cardInSlot = false;
  private lastCard: TestCard | undefined;
  private display: [string, string] = ['', ''];
  private answers: StoredAnswer[] = [];
  private readonly wire = new ReaderWire();
  /** Injected once with the test initial key; its counter survives stop() like a real reader's. */
  private readonly dukpt = new DukptDevice(TEST_READER_INITIAL_KEY, TEST_INITIAL_KEY_ID);
  /** The chip of the card of the last READ; its `scriptsDelivered` is what issuer scripts reached the card. */
  readonly chip = new SimChip();
  /** Every well-formed command received, duplicates included. */
  readonly received: ReaderFrame[] = [];
  /** Every NAK this reader sent, by reason: what a test checks to see the damage was noticed. */
  readonly naksSent: string[] = [];
  /** Every NAK the terminal sent this reader, by reason. */
  readonly naksReceived: string[] = [];
  /** Every enciphered PIN block and its KSN this reader sent: what the leak scan looks for in the terminal's artefacts. */
  readonly pinBlocksSent: { block: Buffer; ksn: Buffer }[] = [];
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

  get state(): 'IDLE' | 'READING' | 'PIN' {
    return this.mode;
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.options.path, baudRate: this.options.baudRate ?? 115200, autoOpen: false, lock: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const splitter = new LineSplitter();
    port.on('data', (chunk: Buffer) => {
      for (const item of splitter.push(chunk)) {
        if ('line' in item) this.onLine(item.line);
        else this.nak('0', 'OVERLONG');
      }
    });
    port.on('error', () => undefined);
    this.port = port;
    this.wire.attach(port);
  }

  /** Power off: the job in progress and the stored answers are lost, scripted cards and faults stay. */
  async stop(): Promise<void> {
    this.endJob();
    this.answers = [];
    this.wire.detach();
    const port = this.port;
    this.port = undefined;
    port?.removeAllListeners('data');
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  // ---- the cardholder -------------------------------------------------------------

  /** Queue the card the next READ will get. */
  presentCard(name: string): void {
    this.cardActions.push({ card: cardByName(name) });
  }

  /** The next READ is cancelled by the cardholder pressing the reader's cancel key; during a READ, it is cancelled now. */
  cancelByCardholder(): void {
    if (this.mode === 'READING') this.finishRead({ cancel: true });
    else if (this.mode === 'PIN') this.finishPin({ cancel: true });
    else this.cardActions.push({ cancel: true });
  }

  /** The next READ gets no card: the reader answers ERR,TIMEOUT after the READ's own timeout. */
  presentNothing(): void {
    this.cardActions.push({ nothing: true });
  }

  /** The next PIN: the cardholder types these digits (4-12); the answer is the enciphered PIN block and its KSN. */
  enterPin(pin: string): void {
    this.pinActions.push({ pin });
  }

  bypassPin(): void {
    this.pinActions.push({ bypass: true });
  }

  cancelPin(): void {
    this.pinActions.push({ cancel: true });
  }

  /** The next PIN gets no key at all: ERR,TIMEOUT after its timeout. */
  ignorePin(): void {
    this.pinActions.push({ nothing: true });
  }

  /** A card goes into the chip slot (or comes out): CARD_INSERTED / CARD_REMOVED events. */
  insertCard(): void {
    this.cardInSlot = true;
    this.event(['CARD_INSERTED']);
  }

  removeCard(): void {
    this.cardInSlot = false;
    this.event(['CARD_REMOVED']);
  }

  /** A key pressed while idle becomes a KEY event; during a READ or PIN only CANCEL matters (and is no event). */
  pressKey(key: string): void {
    if (this.mode !== 'IDLE') {
      if (key === 'CANCEL') this.cancelByCardholder();
      return;
    }
    this.event(['KEY', key]);
  }

  // ---- faults ---------------------------------------------------------------------

  /** The next `n` answer transmissions (retransmissions included) leave with a wrong checksum. */
  corruptAnswers(n: number): void {
    this.wire.faults.corruptAnswers += n;
  }

  /** The next `n` commands arrive damaged, as line noise would leave them: answered NAK,CHECKSUM. */
  damageIncoming(n: number): void {
    this.wire.faults.damageIncoming += n;
  }

  /** The next `n` answers are written in small pieces with pauses between them. */
  splitAnswers(n: number): void {
    this.wire.faults.splitAnswers += n;
  }

  /** The next frame is held back and written in one chunk with the frame after it (alone if none follows within 300 ms). */
  mergeNextFrames(): void {
    this.wire.faults.mergeNext = true;
  }

  /** The reader stops answering (commands are still read, no answer or NAK is sent), until `hang(false)`. */
  hang(on = true): void {
    this.wire.faults.hang = on;
  }

  /** Every answer waits this long before it is sent. */
  set answerDelayMs(ms: number) {
    this.wire.faults.answerDelayMs = ms;
  }

  get answerDelayMs(): number {
    return this.wire.faults.answerDelayMs;
  }

  /** Bytes that are no frame at all (noise on the line), followed by CR LF so the next frame starts clean. */
  sendGarbage(bytes: Buffer = Buffer.from([0x00, 0xff, 0x24, 0x2a, 0x13, 0x37, 0x80, 0x7e])): void {
    this.wire.send(Buffer.concat([bytes, Buffer.from('\r\n')]));
  }

  /** A line longer than the protocol's 1024-byte maximum. */
  sendOverlong(length = 4096): void {
    this.wire.send(Buffer.from(`$1,READ,OK,${'A'.repeat(Math.max(0, length - 11))}\r\n`, 'latin1'));
  }

  // ---- the protocol ---------------------------------------------------------------

  private nak(seq: string, reason: string): void {
    if (this.wire.faults.hang) return;
    this.naksSent.push(reason);
    this.wire.send(encodeFrame({ seq, command: 'NAK', fields: [reason] }));
  }

  private event(fields: string[]): void {
    this.eventSeq = this.eventSeq >= 999 ? 1 : this.eventSeq + 1;
    this.wire.send(encodeFrame({ seq: `E${this.eventSeq}`, command: 'EVENT', fields }));
  }

  private answer(req: ReaderFrame, line: string, fields: string[]): void {
    if (this.wire.faults.hang) return;
    const wire = encodeFrame({ seq: req.seq, command: req.command, fields });
    this.answers = [...this.answers.slice(-1), { seq: req.seq, wire, transmissions: 1, commandLine: line, at: Date.now() }];
    this.wire.send(wire, { answer: true });
  }

  private ok(req: ReaderFrame, line: string, fields: string[] = []): void {
    this.answer(req, line, ['OK', ...fields]);
  }

  private err(req: ReaderFrame, line: string, code: string): void {
    this.answer(req, line, ['ERR', code]);
  }

  private onLine(line: string): void {
    if (this.wire.faults.damageIncoming > 0 && line.startsWith('$') && !/^\$\d+,NAK,/.test(line)) {
      this.wire.faults.damageIncoming--;
      const seq = /^\$(\d+),/.exec(line)?.[1];
      this.nak(seq ?? '0', 'CHECKSUM');
      return;
    }
    let frame: ReaderFrame;
    try {
      frame = parseFrame(line);
    } catch (e) {
      if (!(e instanceof ReaderFrameError)) throw e;
      // Never NAK a NAK or an event: two peers could trade NAKs forever.
      if (/^\$(?:\d+|E\d+),NAK,/.test(line) || (e.seq !== undefined && isEventSeq(e.seq))) return;
      this.nak(e.seq ?? '0', e.nak);
      return;
    }
    if (frame.command === 'NAK') {
      this.naksReceived.push(frame.fields[0] ?? '');
      this.onNak(frame.seq);
      return;
    }
    if (frame.command === 'EVENT') return;
    this.received.push(frame);
    this.emit('command', frame);
    const rule = FIELD_RULES[frame.command] ?? CHIP_FIELD_RULES[frame.command];
    if (!rule || !rule(frame.fields)) {
      this.nak(frame.seq, 'SYNTAX');
      return;
    }
    if (this.wire.faults.hang) return;
    this.handle(frame, line);
  }

  /** Seq 0 means the most recent answer; each answer is transmitted at most 3 times in all. */
  private onNak(seq: string): void {
    const stored = seq === '0' ? this.answers[this.answers.length - 1] : this.answers.find((a) => a.seq === seq);
    if (!stored || stored.transmissions >= MAX_TRANSMISSIONS || this.wire.faults.hang) return;
    stored.transmissions++;
    this.wire.send(stored.wire, { answer: true });
  }

  private handle(req: ReaderFrame, line: string): void {
    if (req.command !== 'RESET') {
      if (this.job?.line === line) return;
      const last = this.answers[this.answers.length - 1];
      if (last && last.commandLine === line && Date.now() - last.at <= DUPLICATE_WINDOW_MS) {
        this.wire.send(last.wire, { answer: true });
        return;
      }
    }
    if (this.mode !== 'IDLE' && !['CANCEL', 'RESET', 'STATUS'].includes(req.command)) {
      this.err(req, line, 'BUSY');
      return;
    }
    switch (req.command) {
      case 'INFO':
        this.ok(req, line, ['SIMCO', 'SR-100', 'SIM00001', '1.0.0']);
        return;
      case 'STATUS':
        this.ok(req, line, [
          this.mode === 'IDLE' && (this.display[0] || this.display[1]) ? 'DISPLAY' : this.mode,
          this.cardInSlot ? '1' : '0',
        ]);
        return;
      case 'READ':
        this.startRead(req, line);
        return;
      case 'PIN':
        this.startPin(req, line);
        return;
      case 'CANCEL':
        this.abortJob();
        this.ok(req, line);
        return;
      case 'DISPLAY':
        this.display = [decodeText(req.fields[0]!), decodeText(req.fields[1]!)];
        this.ok(req, line);
        return;
      case 'BEEP':
        this.ok(req, line);
        return;
      case 'RESET':
        this.abortJob();
        this.display = ['', ''];
        this.answers = [];
        this.lastCard = undefined;
        this.chip.cardRead(undefined);
        this.ok(req, line);
        return;
    }
    if (isChipCommand(req.command)) {
      const answer = chipCommand(req.command, req.fields, this.chip, this.dukpt);
      if ('ok' in answer) this.ok(req, line, answer.ok);
      else this.err(req, line, answer.err);
    }
  }

  private abortJob(): void {
    if (this.mode === 'READING') this.finishRead({ cancel: true });
    else if (this.mode === 'PIN') this.finishPin({ cancel: true });
  }

  private endJob(): Job | undefined {
    const job = this.job;
    if (job?.timer) clearTimeout(job.timer);
    this.job = undefined;
    this.mode = 'IDLE';
    return job;
  }

  private startRead(req: ReaderFrame, line: string): void {
    const timeoutMs = Number(req.fields[2]);
    const action = this.cardActions.shift() ?? (this.autoPresent ? { card: cardByName(DEFAULT_CARD) } : { nothing: true as const });
    const timer =
      'nothing' in action
        ? setTimeout(() => this.finishRead(action), timeoutMs)
        : setTimeout(() => this.finishRead(action), this.tapDelayMs);
    timer.unref();
    this.job = { req, line, timer };
    this.mode = 'READING';
  }

  private finishRead(action: CardAction): void {
    if (this.mode !== 'READING') return;
    const job = this.endJob();
    if (!job) return;
    const { req, line } = job;
    if ('nothing' in action) {
      this.err(req, line, 'TIMEOUT');
      return;
    }
    if ('cancel' in action) {
      // The cancel key belongs to the READ: no KEY event, only the READ's answer.
      this.err(req, line, 'CANCELLED');
      return;
    }
    const card = action.card;
    if (card.entryMode === 'CTLS') {
      this.event(['CARD_TAPPED']);
    } else if (card.entryMode === 'CHIP' && !this.cardInSlot) {
      this.cardInSlot = true;
      this.event(['CARD_INSERTED']);
    }
    if (card.unreadable) {
      this.err(req, line, 'CARD_READ_FAILED');
      return;
    }
    this.lastCard = card;
    this.chip.cardRead({ card, amountMinor: Number(req.fields[0]), currencyAlpha: req.fields[1]! });
    const blob = sealCardBlob(this.dukpt, { pan: card.pan, expiry: card.expiry, entryMode: card.entryMode });
    this.ok(req, line, [maskPan(card.pan), card.expiry, card.entryMode, panToken(card.pan), blob.toString('base64'), card.pinPolicy]);
    this.emit('card-read', card.name);
  }

  private startPin(req: ReaderFrame, line: string): void {
    if (!this.lastCard) {
      this.err(req, line, 'CANCELLED');
      return;
    }
    const card = this.lastCard;
    const action: PinAction = this.pinActions.shift() ?? { pin: card.pin };
    const delay = 'nothing' in action ? Number(req.fields[0]) : this.tapDelayMs;
    const timer = setTimeout(() => this.finishPin(action), delay);
    timer.unref();
    this.job = { req, line, timer };
    this.mode = 'PIN';
  }

  private finishPin(action: PinAction): void {
    if (this.mode !== 'PIN') return;
    const job = this.endJob();
    if (!job) return;
    const { req, line } = job;
    if ('nothing' in action) this.err(req, line, 'TIMEOUT');
    else if ('cancel' in action) this.err(req, line, 'CANCELLED');
    else if ('bypass' in action) this.ok(req, line, ['BYPASSED']);
    else this.ok(req, line, this.encipherPin(action.pin, this.lastCard!.pan));
  }

  /** Card-reader.md section 7.2: a new KSN for every PIN entry, its PIN key, a format 4 block. */
  private encipherPin(pin: string, pan: string): string[] {
    const ksn = this.dukpt.nextKsn();
    const block = encipherPinBlock4(this.dukpt.workingKey(ksn, 'pinEncryption'), pin, pan);
    this.pinBlocksSent.push({ block, ksn });
    return [block.toString('base64'), ksn.toString('base64')];
  }
}
