import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../base/clock.js';
import { systemClock } from '../base/clock.js';
import type { Logger } from '../base/logger.js';
import { LineFramer, type LineFramerStats, type OverlongLine } from './line-framer.js';
import { closePort, defaultPortFactory, openPort, type PortFactory, type SerialLink } from './port-factory.js';

export type LinkState = 'disconnected' | 'connecting' | 'connected';

export interface LineLinkOptions {
  path: string;
  baudRate: number;
  maxLineLength: number;
  /** First reopen delay after the port is lost or fails to open; doubles up to reconnectMaxMs. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/**
 * A line-oriented serial port that stays open: opened through the port factory, split into
 * bounded lines, reopened with backoff whenever it is lost. It is lost on a port error, a
 * close, a failed write, or when its owner says so (`lose`, e.g. after a failed health
 * probe), because a vanished pty or USB adapter on Linux emits no close and only fails writes.
 *
 * Events: `'line'` (string), `'overlong'` (OverlongLine), `'state'` (LinkState),
 * `'lost'` (reason: string, emitted before the state turns disconnected).
 */
export class LineLink extends EventEmitter {
  private port: SerialLink | undefined;
  private framer: LineFramer | undefined;
  private linkState: LinkState = 'disconnected';
  private closing = false;
  private opening = false;
  private reconnectTimer: TimerHandle | undefined;
  private reconnectDelay: number;

  constructor(
    readonly options: LineLinkOptions,
    private readonly deps: { logger: Logger; clock?: Clock; portFactory?: PortFactory },
  ) {
    super();
    this.reconnectDelay = options.reconnectMinMs;
  }

  get state(): LinkState {
    return this.linkState;
  }

  /** Receive-side counters of the current port; undefined while disconnected. */
  get stats(): (LineFramerStats & { pendingBytes: number }) | undefined {
    const f = this.framer;
    return f ? { ...f.stats, pendingBytes: f.pendingBytes } : undefined;
  }

  private get clock(): Clock {
    return this.deps.clock ?? systemClock;
  }

  /** Opens the port; on failure keeps retrying in the background and resolves false. */
  async connect(): Promise<boolean> {
    this.closing = false;
    if (this.linkState === 'connected') return true;
    return this.tryOpen();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const port = this.port;
    this.drop('closed by the terminal');
    if (port) await closePort(port);
  }

  /** The peer proved alive (a well-formed frame): the next reconnect starts from the shortest delay. */
  markAlive(): void {
    this.reconnectDelay = this.options.reconnectMinMs;
  }

  /** Writes text (latin1, one byte per character); a failing write loses the link. */
  write(text: string): void {
    const port = this.port;
    if (!port) return;
    port.write(Buffer.from(text, 'latin1'), (err: Error | null | undefined) => {
      if (err) this.lost(port, `write failed: ${err.message}`);
    });
  }

  /** The owner decided the port is dead (a health probe went unanswered): drop it and reconnect. */
  lose(reason: string): void {
    if (this.port) this.lost(this.port, reason);
  }

  private setState(s: LinkState): void {
    if (this.linkState === s) return;
    this.linkState = s;
    this.emit('state', s);
  }

  private async tryOpen(): Promise<boolean> {
    if (this.opening) return false;
    this.opening = true;
    this.setState('connecting');
    let port: SerialLink;
    try {
      port = await openPort(this.deps.portFactory ?? defaultPortFactory, this.options.path, this.options.baudRate);
    } catch (err) {
      this.opening = false;
      this.deps.logger.warn({ err, path: this.options.path }, 'serial port not available');
      this.setState('disconnected');
      this.scheduleReconnect();
      return false;
    }
    this.opening = false;
    if (this.closing) {
      await closePort(port);
      this.setState('disconnected');
      return false;
    }
    const framer = new LineFramer({ maxLength: this.options.maxLineLength });
    framer.on('data', (line: string) => this.emit('line', line));
    framer.on('overlong', (o: OverlongLine) => this.emit('overlong', o));
    port.pipe(framer);
    port.on('error', (err: Error) => this.lost(port, err.message));
    port.on('close', () => this.lost(port, 'port closed'));
    this.port = port;
    this.framer = framer;
    this.setState('connected');
    this.deps.logger.info({ path: this.options.path }, 'serial port open');
    return true;
  }

  private lost(port: SerialLink, reason: string): void {
    if (this.port !== port) return;
    this.deps.logger.warn({ path: this.options.path, reason }, 'serial link lost');
    this.drop(reason);
    void closePort(port).catch(() => undefined);
    if (!this.closing) this.scheduleReconnect();
  }

  private drop(reason: string): void {
    const port = this.port;
    this.port = undefined;
    if (port && this.framer) port.unpipe(this.framer);
    this.framer = undefined;
    port?.removeAllListeners('error');
    port?.removeAllListeners('close');
    // A late error from the dead port must not crash the process.
    port?.on('error', () => undefined);
    if (port) this.emit('lost', reason);
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
}
