import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../base/clock.js';
import { systemClock } from '../base/clock.js';
import type { Logger } from '../base/logger.js';
import { LineFramer } from '../serial/line-framer.js';
import { closePort, defaultPortFactory, openPort, type PortFactory, type SerialLink } from '../serial/port-factory.js';
import { ReaderCommandError, ReaderDisconnectedError, ReaderLinkError, ReaderProtocolError, ReaderTimeoutError } from './errors.js';
import { FrameError, enc64, encodeFrame, isEventSeq, parseFrame, type Frame } from './frame.js';
import { resolveReaderOptions, type ReaderOptions } from './options.js';
import { ENTRY_MODES, type CardReadResult, type EntryMode, type PinResult, type ReaderEvent, type ReaderInfo, type ReaderStatus } from './types.js';

interface Pending {
  seq: string;
  command: string;
  line: string;
  transmissions: number;
  naksSent: number;
  timeoutMs: number;
  timer: TimerHandle | undefined;
  resolve: (fields: string[]) => void;
  reject: (err: Error) => void;
}

export type ReaderLinkState = 'disconnected' | 'connecting' | 'connected';

const MASKED_PAN = /^(\d{6})\*{3,9}(\d{4})$/;

/**
 * Driver for the card reader's line protocol (docs/protocols/card-reader.md): one
 * outstanding command at a time (CANCEL excepted), responses matched by seq, NAK and
 * retransmit, per-command timeouts, reconnect after unplug.
 */
export class CardReaderClient extends EventEmitter {
  readonly options: ReaderOptions;
  private port: SerialLink | undefined;
  private framer: LineFramer | undefined;
  private seq = 0;
  private pending: Pending | undefined;
  private cancelPending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private linkState: ReaderLinkState = 'disconnected';
  private closing = false;
  private reconnectTimer: TimerHandle | undefined;
  private probeTimer: TimerHandle | undefined;
  private reconnectDelay: number;
  private busy = 0;

  constructor(
    options: Partial<ReaderOptions> & { path: string },
    private readonly deps: { logger: Logger; clock?: Clock; portFactory?: PortFactory },
  ) {
    super();
    this.options = resolveReaderOptions(options);
    this.reconnectDelay = this.options.reconnectMinMs;
  }

  get state(): ReaderLinkState {
    return this.linkState;
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  /** Opens the port; on failure keeps retrying in the background and resolves false. */
  async connect(): Promise<boolean> {
    this.closing = false;
    return this.tryOpen();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    if (this.probeTimer) this.clock.clearTimeout(this.probeTimer);
    this.reconnectTimer = undefined;
    this.probeTimer = undefined;
    const port = this.port;
    this.dropLink('closed by the terminal');
    if (port) await closePort(port);
  }

  /** Waits until the link is connected, or the time runs out. */
  async waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.linkState === 'connected') return true;
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

  async read(input: { amount: number; currency: string; timeoutMs: number }): Promise<CardReadResult> {
    const fields = await this.command(
      'READ',
      [String(input.amount), input.currency, String(input.timeoutMs)],
      input.timeoutMs + this.options.interactiveMarginMs,
    );
    return parseReadResult(fields);
  }

  async pin(timeoutMs: number): Promise<PinResult> {
    const [value] = await this.command('PIN', [String(timeoutMs)], timeoutMs + this.options.interactiveMarginMs);
    if (value === 'BYPASSED') return { bypassed: true };
    const block = value === undefined ? Buffer.alloc(0) : Buffer.from(value, 'base64');
    if (block.length !== 8) throw new ReaderProtocolError('PIN', 'PIN block is not 8 bytes');
    return { bypassed: false, pinBlock: block };
  }

  async display(line1: string, line2 = ''): Promise<void> {
    await this.command('DISPLAY', [enc64(line1), enc64(line2)], this.options.commandTimeoutMs);
  }

  async beep(count = 1, durationMs = 100): Promise<void> {
    await this.command('BEEP', [String(count), String(durationMs)], this.options.commandTimeoutMs);
  }

  async reset(): Promise<void> {
    await this.command('RESET', [], this.options.commandTimeoutMs);
  }

  /** Aborts a READ or PIN in progress; sent alongside it, not queued behind it. */
  async cancel(): Promise<void> {
    if (this.linkState !== 'connected' || !this.port) throw new ReaderDisconnectedError(this.options.path, 'not connected');
    if (!this.pending) return;
    await new Promise<string[]>((resolve, reject) => {
      const p = this.newPending('CANCEL', [], this.options.commandTimeoutMs, resolve, reject);
      this.cancelPending = p;
      this.transmit(p);
    });
  }

  /** Runs one command after the previous one finished (one outstanding command per device). */
  private command(command: string, fields: string[], timeoutMs: number): Promise<string[]> {
    const run = () =>
      new Promise<string[]>((resolve, reject) => {
        if (this.linkState !== 'connected' || !this.port) {
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

  private newPending(command: string, fields: string[], timeoutMs: number, resolve: (f: string[]) => void, reject: (e: Error) => void): Pending {
    this.seq = this.seq >= 999 ? 1 : this.seq + 1;
    const seq = String(this.seq);
    const line = encodeFrame({ seq, command, fields });
    return { seq, command, line, transmissions: 0, naksSent: 0, timeoutMs, timer: undefined, resolve, reject };
  }

  private transmit(p: Pending): void {
    p.transmissions++;
    if (p.timer) this.clock.clearTimeout(p.timer);
    p.timer = this.clock.setTimeout(() => this.settle(p, new ReaderTimeoutError(p.command, p.timeoutMs)), p.timeoutMs);
    this.port?.write(p.line);
  }

  private settle(p: Pending, outcome: Error | string[]): void {
    if (p.timer) this.clock.clearTimeout(p.timer);
    if (this.pending === p) this.pending = undefined;
    if (this.cancelPending === p) this.cancelPending = undefined;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  private onLine(line: string): void {
    let frame: Frame;
    try {
      frame = parseFrame(line);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.onDamaged(err.code === 'FRAME_CHECKSUM' ? 'CHECKSUM' : 'SYNTAX', err.seq, line.includes(',NAK,'), line.length);
      return;
    }
    if (isEventSeq(frame.seq)) {
      this.onEvent(frame);
      return;
    }
    // A NAK with seq 0 could not read our seq: it refers to the command most recently sent.
    const target =
      frame.command === 'NAK' && frame.seq === '0'
        ? this.cancelPending ?? this.pending
        : [this.pending, this.cancelPending].find((p) => p?.seq === frame.seq);
    if (!target) {
      this.deps.logger.debug({ seq: frame.seq, command: frame.command }, 'reader frame matches no outstanding command');
      return;
    }
    if (frame.command === 'NAK') {
      const reason = frame.fields[0] ?? 'UNKNOWN';
      if (target.transmissions >= this.options.maxTransmissions) {
        this.settle(target, new ReaderLinkError(target.command, reason, target.transmissions));
      } else {
        this.deps.logger.info({ command: target.command, reason, transmission: target.transmissions + 1 }, 'reader NAK, retransmitting');
        this.transmit(target);
      }
      return;
    }
    if (frame.command !== target.command) {
      this.settle(target, new ReaderProtocolError(target.command, `answer names ${frame.command}`));
      return;
    }
    const [status, ...rest] = frame.fields;
    if (status === 'OK') this.settle(target, rest);
    else if (status === 'ERR') this.settle(target, new ReaderCommandError(target.command, rest[0] ?? 'UNKNOWN'));
    else this.settle(target, new ReaderProtocolError(target.command, 'answer is neither OK nor ERR'));
  }

  /**
   * A damaged line: NAK it so the reader repeats its answer, but never NAK an event or a
   * NAK (two sides could trade NAKs forever), and give up on the command after
   * `maxTransmissions - 1` NAKs of ours.
   */
  private onDamaged(reason: 'CHECKSUM' | 'SYNTAX' | 'OVERLONG', seq: string | undefined, looksLikeNak: boolean, length: number): void {
    this.deps.logger.warn({ reason, length }, 'damaged frame from reader');
    if ((seq !== undefined && isEventSeq(seq)) || looksLikeNak) return;
    const target = this.pending;
    if (!target) return;
    if (target.naksSent >= this.options.maxTransmissions - 1) {
      this.settle(target, new ReaderLinkError(target.command, reason, target.naksSent + 1));
      return;
    }
    target.naksSent++;
    this.port?.write(encodeFrame({ seq: seq === target.seq ? seq : target.seq, command: 'NAK', fields: [reason] }));
  }

  private onEvent(frame: Frame): void {
    const [kind, arg] = frame.fields;
    let event: ReaderEvent | undefined;
    if (kind === 'CARD_INSERTED' || kind === 'CARD_REMOVED' || kind === 'CARD_TAPPED') event = { type: kind };
    else if (kind === 'KEY' && arg !== undefined) event = { type: 'KEY', key: arg };
    if (frame.command !== 'EVENT' || !event) {
      this.deps.logger.debug({ seq: frame.seq }, 'unknown reader event ignored');
      return;
    }
    this.emit('event', event);
  }

  private setState(s: ReaderLinkState): void {
    if (this.linkState === s) return;
    this.linkState = s;
    this.emit('state', s);
  }

  private async tryOpen(): Promise<boolean> {
    this.setState('connecting');
    let port: SerialLink;
    try {
      port = await openPort(this.deps.portFactory ?? defaultPortFactory, this.options.path, this.options.baudRate);
    } catch (err) {
      this.deps.logger.warn({ err, path: this.options.path }, 'card reader not available');
      this.setState('disconnected');
      this.scheduleReconnect();
      return false;
    }
    if (this.closing) {
      await closePort(port);
      return false;
    }
    const framer = new LineFramer({ maxLength: this.options.maxLineLength });
    framer.on('data', (line: string) => this.onLine(line));
    framer.on('overlong', (o: { length: number }) => this.onDamaged('OVERLONG', undefined, false, o.length));
    port.pipe(framer);
    port.on('error', (err: Error) => this.onPortLost(port, err.message));
    port.on('close', () => this.onPortLost(port, 'port closed'));
    this.port = port;
    this.framer = framer;
    this.reconnectDelay = this.options.reconnectMinMs;
    this.setState('connected');
    this.scheduleProbe();
    this.deps.logger.info({ path: this.options.path }, 'card reader connected');
    return true;
  }

  private onPortLost(port: SerialLink, reason: string): void {
    if (this.port !== port) return;
    this.deps.logger.warn({ path: this.options.path, reason }, 'card reader link lost');
    this.dropLink(reason);
    void closePort(port).catch(() => undefined);
    if (!this.closing) this.scheduleReconnect();
  }

  private dropLink(reason: string): void {
    const port = this.port;
    this.port = undefined;
    if (port && this.framer) port.unpipe(this.framer);
    this.framer = undefined;
    port?.removeAllListeners('error');
    port?.removeAllListeners('close');
    port?.on('error', () => undefined);
    for (const p of [this.pending, this.cancelPending]) {
      if (p) this.settle(p, new ReaderDisconnectedError(this.options.path, reason));
    }
    this.setState('disconnected');
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.options.reconnectMaxMs);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.tryOpen();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /**
   * A pty or USB adapter that vanishes does not always produce `close` on Linux, so an
   * idle link is probed with STATUS; no answer means the reader is treated as unplugged.
   */
  private scheduleProbe(): void {
    if (this.options.healthProbeMs === 0 || this.closing) return;
    if (this.probeTimer) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      const port = this.port;
      if (!port || this.linkState !== 'connected') return;
      if (this.busy > 0) {
        this.scheduleProbe();
        return;
      }
      this.status().then(
        () => this.scheduleProbe(),
        (err: Error) => {
          if (this.port === port && !(err instanceof ReaderCommandError)) this.onPortLost(port, `health probe failed: ${err.message}`);
          else this.scheduleProbe();
        },
      );
    }, this.options.healthProbeMs);
    this.probeTimer.unref?.();
  }
}

export function parseReadResult(fields: string[]): CardReadResult {
  const [maskedPan = '', expiry = '', entryMode = '', panToken = '', blob = ''] = fields;
  const m = MASKED_PAN.exec(maskedPan);
  // A reader that sends anything but BIN6 + fill + last four might be sending a clear PAN:
  // refuse it without echoing the value anywhere.
  if (!m || maskedPan.length < 13 || maskedPan.length > 19) throw new ReaderProtocolError('READ', 'masked PAN is not BIN6 + masked digits + last four');
  if (!/^\d{4}$/.test(expiry)) throw new ReaderProtocolError('READ', 'expiry is not YYMM');
  if (!ENTRY_MODES.includes(entryMode as EntryMode)) throw new ReaderProtocolError('READ', 'unknown entry mode');
  if (!/^[0-9a-f]{64}$/.test(panToken)) throw new ReaderProtocolError('READ', 'PAN token is not 64 hex digits');
  const encryptedBlob = Buffer.from(blob, 'base64');
  if (encryptedBlob.length < 29) throw new ReaderProtocolError('READ', 'encrypted card data is missing or too short');
  return { maskedPan, last4: m[2]!, expiry, entryMode: entryMode as EntryMode, panToken, encryptedBlob };
}

