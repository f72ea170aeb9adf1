import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { systemClock } from '../../drivers/base/clock.js';
import type { Logger } from '../logging/logger.js';
import { HostTimeoutError, HostUnreachableError } from './errors.js';
import { IsoError } from './iso8583/errors.js';
import { describe, pack, responseMti, unpack, type IsoMessage } from './iso8583/packager.js';

export type LinkState = 'online' | 'degraded' | 'offline';

export interface HostLinkOptions {
  address: string;
  port: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

interface InFlight {
  key: string;
  request: IsoMessage;
  timer: TimerHandle;
  resolve: (m: IsoMessage) => void;
  reject: (e: Error) => void;
}

const MAX_FRAME = 0xffff;

function fieldText(msg: IsoMessage, n: number): string {
  const v = msg.fields.get(n);
  return typeof v === 'string' ? v : '';
}

/** The key that pairs a response with its request: response MTI class + terminal id + STAN. */
export function matchKey(mti: string, msg: IsoMessage): string {
  return `${mti}|${fieldText(msg, 41)}|${fieldText(msg, 11)}`;
}

/**
 * One persistent TCP connection to the acquirer: 2-byte big-endian length framing,
 * several requests in flight matched by MTI class + terminal id + STAN, per-request
 * timeouts, reconnect with capped exponential backoff.
 */
export class HostLink extends EventEmitter {
  private socket: Socket | undefined;
  private connected = false;
  private stopped = true;
  private rx = Buffer.alloc(0);
  private readonly inFlight = new Map<string, InFlight>();
  private reconnectTimer: TimerHandle | undefined;
  private reconnectDelay: number;
  private linkState: LinkState = 'offline';

  constructor(
    private readonly options: HostLinkOptions,
    private readonly deps: { logger: Logger; clock?: Clock; random?: () => number },
  ) {
    super();
    this.reconnectDelay = options.reconnectMinMs;
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  get state(): LinkState {
    return this.linkState;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Resolves once connected, or false after the timeout. */
  waitOnline(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.off('state', onState);
        resolve(false);
      }, timeoutMs);
      const onState = (s: LinkState) => {
        if (s === 'offline') return;
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
    const socket = this.socket;
    this.socket = undefined;
    this.connected = false;
    if (socket) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      });
    }
    this.setState('offline');
  }

  /**
   * Sends a request and waits for its response. Throws HostUnreachableError when nothing
   * was sent (no connection), HostTimeoutError when the request left but no answer came.
   */
  request(msg: IsoMessage, timeoutMs: number): Promise<IsoMessage> {
    const socket = this.socket;
    if (!socket || !this.connected) return Promise.reject(new HostUnreachableError('not connected'));
    const frame = pack(msg);
    const key = matchKey(responseMti(msg.mti), msg);
    if (this.inFlight.has(key)) return Promise.reject(new Error(`request ${key} is already in flight`));
    return new Promise<IsoMessage>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.inFlight.delete(key);
        this.setState('degraded');
        reject(new HostTimeoutError(msg.mti, fieldText(msg, 11), timeoutMs));
      }, timeoutMs);
      this.inFlight.set(key, { key, request: msg, timer, resolve, reject });
      const header = Buffer.alloc(2);
      header.writeUInt16BE(frame.length);
      socket.write(Buffer.concat([header, frame]));
      this.deps.logger.debug({ message: describe(msg) }, 'sent to host');
    });
  }

  private setState(s: LinkState): void {
    if (this.linkState === s) return;
    this.linkState = s;
    this.deps.logger.info({ state: s }, 'host link state');
    this.emit('state', s);
  }

  private connect(): void {
    if (this.stopped) return;
    const socket = new Socket();
    this.socket = socket;
    this.rx = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.connectTimeoutMs);
    socket.once('timeout', () => socket.destroy(new Error('connect timeout')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      this.connected = true;
      this.reconnectDelay = this.options.reconnectMinMs;
      this.setState('online');
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err) => this.deps.logger.debug({ err }, 'host socket error'));
    socket.once('close', () => this.onClose(socket));
    socket.connect(this.options.port, this.options.address);
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.connected = false;
    this.setState('offline');
    // In-flight requests stay until their own timeout: the host may have them, so their
    // fate is decided by the timeout (and a reversal), never by the disconnect.
    if (this.stopped) return;
    const base = this.reconnectDelay;
    this.reconnectDelay = Math.min(base * 2, this.options.reconnectMaxMs);
    const jitter = base * 0.2 * (this.deps.random ?? Math.random)();
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, base + jitter);
    this.reconnectTimer.unref?.();
  }

  private onData(socket: Socket, chunk: Buffer): void {
    this.rx = Buffer.concat([this.rx, chunk]);
    while (this.rx.length >= 2) {
      const len = this.rx.readUInt16BE(0);
      if (this.rx.length < 2 + len) return;
      const frame = this.rx.subarray(2, 2 + len);
      this.rx = this.rx.subarray(2 + len);
      if (len === 0 || len > MAX_FRAME) continue;
      this.onFrame(Buffer.from(frame));
    }
    if (socket !== this.socket) this.rx = Buffer.alloc(0);
  }

  private onFrame(frame: Buffer): void {
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
    const key = matchKey(msg.mti, msg);
    const pending = this.inFlight.get(key);
    if (!pending) {
      // A late answer to a request that already timed out (and is being reversed), or a
      // duplicate: logged and ignored, never acted on.
      this.deps.logger.warn({ message: describe(msg) }, 'host response matches no request in flight; ignored');
      this.emit('unmatched', msg);
      return;
    }
    this.inFlight.delete(key);
    this.clock.clearTimeout(pending.timer);
    if (this.linkState === 'degraded') this.setState('online');
    pending.resolve(msg);
  }
}
