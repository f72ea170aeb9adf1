import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../base/clock.js';
import { systemClock } from '../base/clock.js';
import type { Logger } from '../base/logger.js';
import type { LineFramerStats, OverlongLine } from '../serial/line-framer.js';
import { LineLink, type LinkState } from '../serial/line-link.js';
import type { PortFactory } from '../serial/port-factory.js';
import {
  ReaderCommandError,
  ReaderDisconnectedError,
  ReaderLinkError,
  ReaderProtocolError,
  ReaderRequestError,
  ReaderTimeoutError,
} from './errors.js';
import { FrameError, enc64, encodeFrame, isEventSeq, parseFrame, type Frame } from './frame.js';
import { resolveReaderOptions, type ReaderOptions } from './options.js';
import {
  ENTRY_MODES,
  PIN_POLICIES,
  READER_KEYS,
  type CardReadResult,
  type EntryMode,
  type PinPolicy,
  type PinResult,
  type ReaderEvent,
  type ReaderInfo,
  type ReaderKey,
  type ReaderStatus,
} from './types.js';

interface Pending {
  seq: string;
  command: string;
  line: string;
  transmissions: number;
  naksSent: number;
  timeoutMs: number;
  timer: TimerHandle | undefined;
  /** The terminal cancelled this READ/PIN: whatever the reader answers, it ends as CANCELLED. */
  cancelled: boolean;
  resolve: (fields: string[]) => void;
  reject: (err: Error) => void;
}

export type ReaderLinkState = LinkState;

/** Commands that wait for the cardholder; only these can be cancelled. */
const INTERACTIVE = new Set(['READ', 'PIN']);
const MASKED_PAN = /^(\d{6})\*{3,9}(\d{4})$/;
/** A 16-byte format 4 PIN block and a 12-byte KSN, as canonical base64. */
const PIN_BLOCK_B64 = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const KSN_B64 = /^[A-Za-z0-9+/]{16}$/;
const DISPLAY_LINE_MAX_BYTES = 256;
const FLUSH = '\r\n';

/**
 * Driver for the card reader's line protocol (docs/protocols/card-reader.md): one
 * outstanding command at a time (CANCEL excepted), responses matched by seq, NAK and
 * retransmit, per-command timeouts, reconnect after unplug, and a health probe because a
 * vanished port does not reliably emit `close` on Linux.
 */
export class CardReaderClient extends EventEmitter {
  readonly options: ReaderOptions;
  private readonly link: LineLink;
  /** Counts connections, so a probe answer from before a reconnect cannot drop the new link. */
  private connection = 0;
  private seq = 0;
  private pending: Pending | undefined;
  private cancelPending: Pending | undefined;
  /** The outstanding command transmitted last: what a NAK with seq 0 refers to. */
  private lastSent: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closing = false;
  private probeTimer: TimerHandle | undefined;
  private busy = 0;
  /** Bumped by cancel(): a READ or PIN queued before it is refused instead of sent. */
  private cancelGeneration = 0;

  constructor(
    options: Partial<ReaderOptions> & { path: string },
    private readonly deps: { logger: Logger; clock?: Clock; portFactory?: PortFactory },
  ) {
    super();
    this.options = resolveReaderOptions(options);
    const { path, baudRate, maxLineLength, reconnectMinMs, reconnectMaxMs } = this.options;
    this.link = new LineLink({ path, baudRate, maxLineLength, reconnectMinMs, reconnectMaxMs }, deps);
    this.link.on('line', (line: string) => this.onLine(line));
    this.link.on('overlong', (o: OverlongLine) => {
      this.log.warn({ length: o.length }, 'overlong line from reader dropped');
      this.onDamaged('OVERLONG', undefined, false);
    });
    this.link.on('lost', (reason: string) => this.onLost(reason));
    this.link.on('state', (s: LinkState) => {
      if (s === 'connected') this.onConnected();
      this.emit('state', s);
    });
  }

  get state(): ReaderLinkState {
    return this.link.state;
  }

  /** Receive-side counters of the current link (lines, bytes, overlong lines dropped, bytes held); undefined while disconnected. */
  get lineStats(): (LineFramerStats & { pendingBytes: number }) | undefined {
    return this.link.stats;
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  private get log(): Logger {
    return this.deps.logger;
  }

  /** Opens the port; on failure keeps retrying in the background and resolves false. */
  async connect(): Promise<boolean> {
    this.closing = false;
    return this.link.connect();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.probeTimer) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    await this.link.close();
  }

  /** Waits until the link is connected, or the time runs out. */
  async waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.link.state === 'connected') return true;
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.off('state', onState);
        resolve(false);
      }, timeoutMs);
      const onState = (s: ReaderLinkState) => {
        if (s !== 'connected') return;
        this.clock.clearTimeout(timer);
        this.off('state', onState);
        resolve(true);
      };
      this.on('state', onState);
    });
  }

  async info(): Promise<ReaderInfo> {
    const f = await this.command('INFO', [], this.options.commandTimeoutMs);
    const [vendor = '', model = '', serial = '', firmware = ''] = f;
    return { vendor, model, serial, firmware };
  }

  async status(): Promise<ReaderStatus> {
    const [state = 'UNKNOWN', present = '0'] = await this.command('STATUS', [], this.options.commandTimeoutMs);
    return { state, cardPresent: present === '1' };
  }

  /** Asks for a card. The result never holds a clear PAN: see `parseReadResult`. */
  async read(input: { amount: number; currency: string; timeoutMs: number }): Promise<CardReadResult> {
    if (!Number.isSafeInteger(input.amount) || input.amount < 0 || String(input.amount).length > 12) {
      throw new ReaderRequestError('READ', 'amount must be a whole number of minor units, at most 12 digits');
    }
    if (!/^[A-Z]{3}$/.test(input.currency)) throw new ReaderRequestError('READ', 'currency must be 3 upper-case letters');
    requireTimeout('READ', input.timeoutMs);
    const fields = await this.command(
      'READ',
      [String(input.amount), input.currency, String(input.timeoutMs)],
      input.timeoutMs + this.options.interactiveMarginMs,
    );
    return parseReadResult(fields);
  }

  async pin(timeoutMs: number): Promise<PinResult> {
    requireTimeout('PIN', timeoutMs);
    const fields = await this.command('PIN', [String(timeoutMs)], timeoutMs + this.options.interactiveMarginMs);
    const [value = '', ksn = ''] = fields;
    if (value === 'BYPASSED' && fields.length === 1) return { bypassed: true };
    if (fields.length !== 2) throw new ReaderProtocolError('PIN', `answer has ${fields.length} fields instead of 2`);
    if (!PIN_BLOCK_B64.test(value)) throw new ReaderProtocolError('PIN', 'PIN block is not 16 bytes of base64');
    if (!KSN_B64.test(ksn)) throw new ReaderProtocolError('PIN', 'KSN is not 12 bytes of base64');
    return { bypassed: false, pinBlock: Buffer.from(value, 'base64'), ksn: Buffer.from(ksn, 'base64') };
  }

  /** Two lines for the cardholder (CJK allowed); each is cut at 256 bytes of UTF-8, on a character boundary. */
  async display(line1: string, line2 = ''): Promise<void> {
    await this.command('DISPLAY', [enc64(fitUtf8(line1)), enc64(fitUtf8(line2))], this.options.commandTimeoutMs);
  }

  async beep(count = 1, durationMs = 100): Promise<void> {
    if (!Number.isInteger(count) || count < 1 || count > 9) throw new ReaderRequestError('BEEP', 'count must be 1-9');
    if (!Number.isInteger(durationMs) || durationMs < 10 || durationMs > 2000)
      throw new ReaderRequestError('BEEP', 'duration must be 10-2000 ms');
    await this.command('BEEP', [String(count), String(durationMs)], this.options.commandTimeoutMs);
  }

  async reset(): Promise<void> {
    await this.command('RESET', [], this.options.commandTimeoutMs);
  }

  /** A chip or MAC command of docs/protocols/card-reader.md section 10 (see chip.ts), queued like any other. */
  chipCommand(command: 'ICC' | 'COMPLETE' | 'MAC' | 'MACV', fields: string[]): Promise<string[]> {
    return this.command(command, fields, this.options.commandTimeoutMs);
  }

  /**
   * Aborts a READ or PIN: the one in progress (CANCEL is sent alongside it, not queued
   * behind it) and any still waiting in the queue. The aborted call rejects with
   * `ReaderCommandError` code READER_CANCELLED, even if the card was read just before the
   * CANCEL reached the reader (its data is dropped unused). Resolves once the reader
   * confirmed; with nothing to abort it resolves at once.
   */
  async cancel(): Promise<void> {
    this.cancelGeneration++;
    const target = this.pending;
    if (!target || !INTERACTIVE.has(target.command) || target.cancelled) return;
    if (this.link.state !== 'connected') throw new ReaderDisconnectedError(this.options.path, 'not connected');
    target.cancelled = true;
    try {
      await new Promise<string[]>((resolve, reject) => {
        const p = this.newPending('CANCEL', [], this.options.commandTimeoutMs, resolve, reject);
        this.cancelPending = p;
        this.transmit(p);
      });
    } finally {
      // The reader may answer the aborted command after CANCEL, or (hung) not at all: the
      // terminal honours its own cancel now and discards that answer as unmatched.
      if (this.pending === target) this.settle(target, new ReaderCommandError(target.command, 'CANCELLED'));
    }
  }

  /** Runs one command after the previous one finished (one outstanding command per device). */
  private command(command: string, fields: string[], timeoutMs: number): Promise<string[]> {
    const generation = this.cancelGeneration;
    const run = () =>
      new Promise<string[]>((resolve, reject) => {
        if (INTERACTIVE.has(command) && generation !== this.cancelGeneration) {
          reject(new ReaderCommandError(command, 'CANCELLED'));
          return;
        }
        if (this.link.state !== 'connected') {
          reject(new ReaderDisconnectedError(this.options.path, 'not connected'));
          return;
        }
        const p = this.newPending(command, fields, timeoutMs, resolve, reject);
        this.pending = p;
        this.transmit(p);
      });
    this.busy++;
    const result = this.queue.then(run, run).finally(() => {
      this.busy--;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private nextSeq(): string {
    this.seq = this.seq >= 999 ? 1 : this.seq + 1;
    return String(this.seq);
  }

  private newPending(
    command: string,
    fields: string[],
    timeoutMs: number,
    resolve: (f: string[]) => void,
    reject: (e: Error) => void,
  ): Pending {
    const seq = this.nextSeq();
    const line = encodeFrame({ seq, command, fields });
    return { seq, command, line, transmissions: 0, naksSent: 0, timeoutMs, timer: undefined, cancelled: false, resolve, reject };
  }

  /** Every transmission restarts the answer timer in full. */
  private transmit(p: Pending): void {
    p.transmissions++;
    this.lastSent = p;
    if (p.timer) this.clock.clearTimeout(p.timer);
    p.timer = this.clock.setTimeout(() => this.onTimeout(p), p.timeoutMs);
    this.write(p.line);
  }

  /** A command is never re-sent after a timeout; a READ or PIN is cancelled so the reader returns to idle. */
  private onTimeout(p: Pending): void {
    if (INTERACTIVE.has(p.command) && !p.cancelled) this.write(encodeFrame({ seq: this.nextSeq(), command: 'CANCEL', fields: [] }));
    this.settle(p, new ReaderTimeoutError(p.command, p.timeoutMs));
  }

  private write(data: string): void {
    this.link.write(data);
  }

  private settle(p: Pending, outcome: Error | string[]): void {
    if (p.timer) this.clock.clearTimeout(p.timer);
    p.timer = undefined;
    if (this.pending === p) this.pending = undefined;
    if (this.cancelPending === p) this.cancelPending = undefined;
    if (this.lastSent === p) this.lastSent = this.cancelPending ?? this.pending;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private outstanding(seq: string): Pending | undefined {
    return [this.pending, this.cancelPending].find((p) => p?.seq === seq);
  }

  private onLine(line: string): void {
    let frame: Frame;
    try {
      frame = parseFrame(line);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.onDamaged(err.code === 'FRAME_CHECKSUM' ? 'CHECKSUM' : 'SYNTAX', err.seq, /^\$(?:0|[1-9]\d{0,2}),NAK,/.test(line));
      return;
    }
    this.link.markAlive();
    if (isEventSeq(frame.seq)) {
      this.onEvent(frame);
      return;
    }
    const target = frame.command === 'NAK' && frame.seq === '0' ? this.lastSent : this.outstanding(frame.seq);
    if (!target) {
      this.log.debug({ seq: frame.seq, command: frame.command }, 'reader frame matches no outstanding command');
      return;
    }
    if (frame.command === 'NAK') {
      const reason = frame.fields[0] ?? 'UNKNOWN';
      if (target.transmissions >= this.options.maxTransmissions) {
        this.settle(target, new ReaderLinkError(target.command, reason, target.transmissions));
      } else {
        this.log.info({ command: target.command, reason, transmission: target.transmissions + 1 }, 'reader NAK, retransmitting');
        this.transmit(target);
      }
      return;
    }
    if (frame.command !== target.command) {
      this.settle(target, new ReaderProtocolError(target.command, `answer names ${frame.command}`));
      return;
    }
    const [status, ...rest] = frame.fields;
    if (status === 'OK') this.settle(target, target.cancelled ? new ReaderCommandError(target.command, 'CANCELLED') : rest);
    else if (status === 'ERR') this.settle(target, new ReaderCommandError(target.command, rest[0] ?? 'UNKNOWN'));
    else this.settle(target, new ReaderProtocolError(target.command, 'answer is neither OK nor ERR'));
  }

  /**
   * A damaged line: NAK it so the reader repeats its answer, but never NAK an event or a
   * NAK (two sides could trade NAKs forever), never NAK while nothing is outstanding, and
   * give up on the command after `maxTransmissions - 1` NAKs of ours.
   */
  private onDamaged(reason: 'CHECKSUM' | 'SYNTAX' | 'OVERLONG', seq: string | undefined, looksLikeNak: boolean): void {
    this.log.warn({ reason }, 'damaged frame from reader');
    if ((seq !== undefined && isEventSeq(seq)) || looksLikeNak) return;
    const target = seq === undefined ? this.lastSent : this.outstanding(seq);
    if (!target) return;
    if (target.naksSent >= this.options.maxTransmissions - 1) {
      this.settle(target, new ReaderLinkError(target.command, reason, target.naksSent + 1));
      return;
    }
    target.naksSent++;
    this.write(encodeFrame({ seq: seq ?? '0', command: 'NAK', fields: [reason] }));
  }

  private onEvent(frame: Frame): void {
    const [kind, arg] = frame.fields;
    let event: ReaderEvent | undefined;
    if (kind === 'CARD_INSERTED' || kind === 'CARD_REMOVED' || kind === 'CARD_TAPPED') event = { type: kind };
    else if (kind === 'KEY' && (READER_KEYS as readonly string[]).includes(arg ?? '')) event = { type: 'KEY', key: arg as ReaderKey };
    if (!event) {
      this.log.debug({ seq: frame.seq }, 'unknown reader event ignored');
      return;
    }
    this.emit('event', event);
  }

  /** Clears whatever half-line the reader holds from before the reconnect, then starts probing. */
  private onConnected(): void {
    this.connection++;
    this.write(FLUSH);
    this.scheduleProbe();
    this.log.info({ path: this.options.path }, 'card reader connected');
  }

  private onLost(reason: string): void {
    this.log.warn({ path: this.options.path, reason }, 'card reader link lost');
    if (this.probeTimer) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    for (const p of [this.pending, this.cancelPending]) {
      if (p) this.settle(p, new ReaderDisconnectedError(this.options.path, reason));
    }
    this.lastSent = undefined;
  }

  /**
   * A pty or USB adapter that vanishes does not emit `close` on Linux, and reads from it
   * just stop; only a write fails. So every `healthProbeMs` the link is exercised: an idle
   * link with STATUS (no answer means the reader is gone or hung), a busy one with an empty
   * line, which the protocol allows at any time and the reader ignores.
   */
  private scheduleProbe(): void {
    if (this.options.healthProbeMs === 0 || this.closing) return;
    if (this.probeTimer) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      if (this.link.state !== 'connected') return;
      if (this.busy > 0) {
        this.write(FLUSH);
        this.scheduleProbe();
        return;
      }
      const connection = this.connection;
      this.status().then(
        () => this.scheduleProbe(),
        (err: Error) => {
          if (this.connection !== connection || this.link.state !== 'connected') return;
          if (err instanceof ReaderTimeoutError) this.link.lose(`health probe failed: ${err.message}`);
          else this.scheduleProbe();
        },
      );
    }, this.options.healthProbeMs);
    this.probeTimer.unref?.();
  }
}

function requireTimeout(command: string, timeoutMs: number): void {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new ReaderRequestError(command, 'timeout must be a positive whole number of ms');
}

function fitUtf8(text: string): string {
  if (Buffer.byteLength(text, 'utf8') <= DISPLAY_LINE_MAX_BYTES) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > DISPLAY_LINE_MAX_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Turns a READ answer into what the product may hold. A reader that sends anything but
 * BIN6 + fill + last four in the masked field might be sending a clear PAN: the answer is
 * refused with a `ReaderProtocolError` that names the problem, never the value.
 */
export function parseReadResult(fields: string[]): CardReadResult {
  const [maskedPan = '', expiry = '', entryMode = '', panToken = '', blob = '', pinPolicy = ''] = fields;
  const m = MASKED_PAN.exec(maskedPan);
  if (!m || maskedPan.length < 13 || maskedPan.length > 19)
    throw new ReaderProtocolError('READ', 'masked PAN is not BIN6 + masked digits + last four');
  if (!/^\d{2}(0[1-9]|1[0-2])$/.test(expiry)) throw new ReaderProtocolError('READ', 'expiry is not YYMM');
  if (!ENTRY_MODES.includes(entryMode as EntryMode)) throw new ReaderProtocolError('READ', 'unknown entry mode');
  if (!/^[0-9a-f]{64}$/.test(panToken)) throw new ReaderProtocolError('READ', 'PAN token is not 64 hex digits');
  if (!/^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(blob)) {
    throw new ReaderProtocolError('READ', 'encrypted card data is not base64');
  }
  const encryptedBlob = Buffer.from(blob, 'base64');
  if (encryptedBlob.length < 29) throw new ReaderProtocolError('READ', 'encrypted card data is missing or too short');
  if (!PIN_POLICIES.includes(pinPolicy as PinPolicy)) throw new ReaderProtocolError('READ', 'unknown PIN policy');
  if (fields.length !== 6) throw new ReaderProtocolError('READ', `answer has ${fields.length} fields instead of 6`);
  return { maskedPan, last4: m[2]!, expiry, entryMode: entryMode as EntryMode, panToken, encryptedBlob, pinPolicy: pinPolicy as PinPolicy };
}
