import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { systemClock } from '../../drivers/base/clock.js';
import { backoffDelay } from '../core/backoff.js';
import type { Logger } from '../logging/logger.js';
import { nextLivenessAction } from './liveness.js';
import { DuplicateExchangeError, HostProtocolError, HostTimeoutError, HostUnreachableError } from './errors.js';
import { IsoError } from './iso8583/errors.js';
import { describe, unpack, type IsoMessage } from './iso8583/packager.js';
import { networkRequest, readAnswer, type TerminalIdentity } from './messages.js';
import { fieldText, matchKey, prepareRequest, type PreparedRequest } from './prepared.js';
import { answerTrace, checkAnswer, describeProblems } from './validate.js';

/**
 * offline: no connection (or the connection was given up as dead). degraded: connected, but
 * not signed on yet, sign-on refused, or a request went unanswered since the last answer.
 * online: signed on and answering.
 */
export type LinkState = 'online' | 'degraded' | 'offline';

export interface HostLinkOptions {
  address: string;
  port: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** An echo test (0800/301) goes out when nothing was received from the host for this long. */
  echoIntervalMs: number;
  /** How long a sign-on or echo may stay unanswered before the connection counts as dead. */
  echoTimeoutMs: number;
  /** A request unanswered this long, with nothing else heard meanwhile, sends an echo to check the connection. */
  probeAfterMs: number;
  identity: TerminalIdentity;
}

export interface HostLinkDeps {
  logger: Logger;
  /** Allocates the STAN of each 0800 from the terminal's persistent counter. */
  nextStan: () => string;
  clock?: Clock;
  random?: () => number;
}

interface InFlight {
  key: string;
  request: IsoMessage;
  /** The connection it was written to: its answer can come on that connection only. */
  socket: Socket;
  sentAt: number;
  timer: TimerHandle;
  resolve: (m: IsoMessage) => void;
  reject: (e: Error) => void;
}

/** Network management (sign-on, echo) is the only traffic allowed before the link is ready. */
function isNetworkMti(mti: string): boolean {
  return mti.startsWith('08');
}

/**
 * One persistent TCP connection to the acquirer: 2-byte big-endian length framing,
 * several requests in flight matched by MTI class + terminal id + STAN, per-request
 * timeouts, reconnect with capped exponential backoff, sign-on after every connect, and
 * echo probes (liveness.ts) that find a half-open connection in seconds. A connection given
 * up on is reset, never closed gracefully: a graceful close would let the kernel keep
 * retransmitting an unanswered request, which could reach the host long after it was reversed.
 *
 * Events: 'state' (LinkState), 'unmatched' (IsoMessage: a late or duplicate response),
 * 'sign-on-refused' (response code), 'invalid-answer' (HostProtocolError: an answer that
 * failed validation against its request; the request fails with that error).
 */
export class HostLink extends EventEmitter {
  private socket: Socket | undefined;
  private connected = false;
  private signedOn = false;
  private stopped = true;
  private readonly inFlight = new Map<string, InFlight>();
  private reconnectTimer: TimerHandle | undefined;
  private echoTimer: TimerHandle | undefined;
  /** Failed connections in a row; the reconnect waits the shared backoff for it. */
  private reconnectAttempts = 0;
  private linkState: LinkState = 'offline';
  private lastHeardAt = 0;
  private probeSentAt: number | null = null;

  constructor(
    private readonly options: HostLinkOptions,
    private readonly deps: HostLinkDeps,
  ) {
    super();
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  get state(): LinkState {
    return this.linkState;
  }

  /**
   * Connected and signed on: the only condition under which a financial request may leave
   * (the ready indicator of a jPOS QMUX). A refused sign-on keeps the link connected but not
   * ready, so no sale, advice, reversal or settlement goes out on it.
   */
  get ready(): boolean {
    return this.connected && this.signedOn;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Resolves true once the link is online (connected and signed on), false after the timeout. */
  waitOnline(timeoutMs: number): Promise<boolean> {
    if (this.linkState === 'online') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.off('state', onState);
        resolve(false);
      }, timeoutMs);
      const onState = (s: LinkState) => {
        if (s !== 'online') return;
        this.clock.clearTimeout(timer);
        this.off('state', onState);
        resolve(true);
      };
      this.on('state', onState);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.disarmEcho();
    const socket = this.socket;
    this.socket = undefined;
    this.connected = false;
    this.signedOn = false;
    // Whatever is still unanswered was sent: its callers must treat it as timed out (and reverse).
    const abandoning = this.inFlight.size > 0;
    this.failInFlight(() => true);
    if (socket) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        if (abandoning && !socket.destroyed) socket.resetAndDestroy();
        else socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      });
    }
    this.setState('offline');
  }

  /**
   * Sends a request and waits for its response. Throws HostUnreachableError when nothing
   * was sent (no connection, or a financial request while not signed on), HostTimeoutError
   * when the request left but no answer came, HostProtocolError when the answer does not fit
   * the request (section 6.1 of the protocol document): the request left, so the caller
   * treats it as unanswered.
   */
  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage> {
    const refused = this.refusal(msg);
    return refused ?? this.send(prepareRequest(msg), timeoutMs);
  }

  /**
   * Packs a request now, to be sent later with `send`: a queue packs its next message while
   * the one before it is on the wire, so the bytes are ready when the answer comes.
   */
  packRequest(msg: IsoMessage): PreparedRequest {
    return prepareRequest(msg);
  }

  /** `request` for a message `packRequest` packed. */
  send(prepared: PreparedRequest, timeoutMs: number): Promise<IsoMessage> {
    const refused = this.refusal(prepared.msg);
    if (refused) return refused;
    const { msg, frame, key } = prepared;
    const socket = this.socket!;
    if (this.inFlight.has(key)) return Promise.reject(new DuplicateExchangeError(key));
    return new Promise<IsoMessage>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.inFlight.delete(key);
        // Only a live connection can be degraded; a dropped one is already offline. An echo
        // right away tells whether the host is still there (online again, or reset and reconnect).
        if (this.connected) {
          this.setState('degraded');
          if (msg.mti !== '0800' && this.probeSentAt === null) this.probe();
        }
        reject(new HostTimeoutError(msg.mti, fieldText(msg, 11), timeoutMs));
      }, timeoutMs);
      timer.unref?.();
      this.inFlight.set(key, { key, request: msg, socket, sentAt: this.clock.now(), timer, resolve, reject });
      socket.write(frame);
      // The dump of every field costs more than packing the message: built only when a technician turned debug on.
      if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ message: describe(msg) }, 'sent to host');
      if (msg.mti !== '0800') this.checkLiveness();
    });
  }

  /** Why nothing may be sent now (a rejected promise), or undefined when the request may leave. */
  private refusal(msg: IsoMessage): Promise<never> | undefined {
    if (!this.socket || !this.connected) return Promise.reject(new HostUnreachableError('not connected'));
    if (!isNetworkMti(msg.mti) && !this.signedOn) return Promise.reject(new HostUnreachableError('not signed on'));
    return undefined;
  }

  /** An answer found unusable after the link matched it (its MAC, host/mac.ts): logged and alerted like a failed check. */
  reportInvalidAnswer(err: HostProtocolError): void {
    this.deps.logger.error({ code: err.code, ...err.details }, 'invalid host answer; treated as unanswered');
    this.emit('invalid-answer', err);
  }

  /** Sends an echo test now; resolves whether the host answered in time. */
  async echo(): Promise<boolean> {
    return this.network('echo');
  }

  private async network(purpose: 'signOn' | 'echo'): Promise<boolean> {
    const socket = this.socket;
    if (!socket || !this.connected) return false;
    let stan: string;
    try {
      stan = this.deps.nextStan();
    } catch (err) {
      // No durable STAN (the journal cannot be written): nothing is sent, and the timer caller must not crash.
      this.deps.logger.error({ err, purpose }, 'no STAN for the network message; not sent');
      // Asked again an echo interval later (the journal may recover), never in a tight loop.
      this.checkLivenessAt(this.clock.now() + this.options.echoIntervalMs);
      return false;
    }
    const msg = networkRequest(this.options.identity, { stan, at: new Date(this.clock.now()), purpose });
    // Every 0800 is a probe: until the host is heard again, the connection's life hangs on it.
    this.probeSentAt ??= this.clock.now();
    this.checkLiveness();
    try {
      const answer = readAnswer(await this.request(msg, this.options.echoTimeoutMs));
      if (purpose === 'signOn') {
        this.signedOn = answer.responseCode === '00';
        if (!this.signedOn) {
          this.deps.logger.error({ responseCode: answer.responseCode }, 'host refused sign-on');
          this.emit('sign-on-refused', answer.responseCode);
          this.setState('degraded');
          return false;
        }
      }
      if (this.signedOn) this.setState('online');
      return true;
    } catch (err) {
      if (err instanceof HostTimeoutError) {
        // A connection that cannot answer a network message is dead even if TCP has not noticed.
        // Only the connection it was sent on; a newer one has not been tested yet.
        if (this.socket === socket) this.checkLiveness();
        return false;
      }
      if (err instanceof HostUnreachableError) return false;
      if (err instanceof HostProtocolError) {
        // An 0810 that does not fit its 0800 proves nothing about the host: not signed on, retried with the echo.
        if (purpose === 'signOn') this.setState('degraded');
        return false;
      }
      throw err;
    }
  }

  private setState(s: LinkState): void {
    if (this.linkState === s) return;
    this.linkState = s;
    this.deps.logger.info({ state: s }, 'host link state');
    this.emit('state', s);
  }

  private disarmEcho(): void {
    if (this.echoTimer) this.clock.clearTimeout(this.echoTimer);
    this.echoTimer = undefined;
  }

  private probe(): void {
    // A refused sign-on is retried in place of the echo: the host may learn the terminal.
    void this.network(this.signedOn ? 'echo' : 'signOn');
  }

  /** Asks liveness.ts what the current connection needs now, and does it or waits for it. */
  private checkLiveness(): void {
    this.disarmEcho();
    const socket = this.socket;
    if (!socket || !this.connected) return;
    let oldestWaitingSince: number | null = null;
    for (const p of this.inFlight.values()) {
      if (p.socket === socket && p.request.mti !== '0800') oldestWaitingSince = Math.min(oldestWaitingSince ?? p.sentAt, p.sentAt);
    }
    const now = this.clock.now();
    const action = nextLivenessAction(
      this.options,
      { lastHeardAt: this.lastHeardAt, oldestWaitingSince, probeSentAt: this.probeSentAt },
      now,
    );
    if (action.kind === 'dead') {
      this.abandon(socket, 'the host did not answer the echo');
    } else if (action.kind === 'probe') {
      this.probe();
    } else {
      this.checkLivenessAt(action.until);
    }
  }

  private checkLivenessAt(at: number): void {
    this.disarmEcho();
    this.echoTimer = this.clock.setTimeout(() => {
      this.echoTimer = undefined;
      this.checkLiveness();
    }, at - this.clock.now());
    this.echoTimer.unref?.();
  }

  /**
   * Gives up on a connection: RST, so the kernel discards whatever it still holds for the
   * host instead of retransmitting it later, and every request on it fails now.
   */
  private abandon(socket: Socket, reason: string): void {
    if (this.socket !== socket) return;
    this.deps.logger.warn({ reason, inFlight: this.inFlight.size }, 'host connection given up; reset');
    if (!socket.destroyed) socket.resetAndDestroy();
    this.onClose(socket);
  }

  /** The host can answer a request only on the connection it came in on: once that is gone, so is the answer. */
  private failInFlight(which: (p: InFlight) => boolean): void {
    for (const pending of [...this.inFlight.values()]) {
      if (!which(pending)) continue;
      this.inFlight.delete(pending.key);
      this.clock.clearTimeout(pending.timer);
      pending.reject(new HostTimeoutError(pending.request.mti, fieldText(pending.request, 11), this.clock.now() - pending.sentAt));
    }
  }

  private connect(): void {
    if (this.stopped) return;
    const socket = new Socket();
    this.socket = socket;
    let rx = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.connectTimeoutMs);
    socket.once('timeout', () => socket.destroy(new Error('connect timeout')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      this.connected = true;
      this.signedOn = false;
      this.reconnectAttempts = 0;
      this.setState('degraded');
      this.lastHeardAt = this.clock.now();
      this.probeSentAt = null;
      void this.network('signOn');
    });
    socket.on('data', (chunk: Buffer) => {
      // Each connection has its own buffer: a frame cut by a dropped connection is discarded with it.
      rx = Buffer.concat([rx, chunk]);
      while (rx.length >= 2) {
        const len = rx.readUInt16BE(0);
        if (rx.length < 2 + len) return;
        const frame = Buffer.from(rx.subarray(2, 2 + len));
        rx = rx.subarray(2 + len);
        if (len > 0) this.onFrame(frame);
      }
    });
    socket.on('error', (err) => this.deps.logger.debug({ err }, 'host socket error'));
    socket.once('close', () => this.onClose(socket));
    socket.connect(this.options.port, this.options.address);
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.connected = false;
    this.signedOn = false;
    this.disarmEcho();
    this.probeSentAt = null;
    this.setState('offline');
    // The host may have them, so they fail as unanswered (to be reversed), never as unsent.
    this.failInFlight((p) => p.socket === socket);
    if (this.stopped) return;
    const delay = backoffDelay(
      ++this.reconnectAttempts,
      this.options.reconnectMinMs,
      this.options.reconnectMaxMs,
      this.deps.random ?? Math.random,
    );
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  /**
   * Every request carries this terminal's own id in 41, so an answer with the right MTI class
   * and STAN but another 41 is this request's answer gone wrong: validation refuses it at once
   * (and alerts) instead of leaving the request to time out as if nothing had come.
   */
  private answeredWithOtherTerminalId(msg: IsoMessage): InFlight | undefined {
    const own = `${msg.mti}|${this.options.identity.terminalId}|${fieldText(msg, 11)}`;
    return fieldText(msg, 41) === this.options.identity.terminalId ? undefined : this.inFlight.get(own);
  }

  private onFrame(frame: Buffer): void {
    this.lastHeardAt = this.clock.now();
    this.probeSentAt = null;
    this.checkLiveness();
    let msg: IsoMessage;
    try {
      msg = unpack(frame);
    } catch (err) {
      if (err instanceof IsoError) {
        this.deps.logger.warn({ code: err.code, length: frame.length }, 'unreadable frame from host dropped');
        return;
      }
      throw err;
    }
    const pending = this.inFlight.get(matchKey(msg.mti, msg)) ?? this.answeredWithOtherTerminalId(msg);
    if (!pending) {
      // A late answer to a request that already timed out (and is being reversed), or a
      // duplicate: logged and ignored, never acted on.
      this.deps.logger.warn({ message: describe(msg) }, 'host response matches no request in flight; ignored');
      this.emit('unmatched', msg);
      return;
    }
    this.inFlight.delete(pending.key);
    this.clock.clearTimeout(pending.timer);
    const problems = checkAnswer(pending.request, msg);
    if (problems.length > 0) {
      const err = new HostProtocolError(`${msg.mti} does not fit its ${pending.request.mti}: ${describeProblems(problems)}`, {
        mti: pending.request.mti,
        stan: fieldText(pending.request, 11),
      });
      this.deps.logger.error(
        { code: err.code, mti: msg.mti, stan: fieldText(msg, 11), problems },
        'invalid host answer; treated as unanswered',
      );
      this.emit('invalid-answer', err);
      pending.reject(err);
      return;
    }
    if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ stan: fieldText(msg, 11), ...answerTrace(msg) }, 'host answer');
    if (this.linkState === 'degraded' && this.signedOn) this.setState('online');
    pending.resolve(msg);
  }
}
