import { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import type { PortFactory, SerialLink } from '../../drivers/serial/port-factory.js';

interface FakeTimer extends TimerHandle {
  at: number;
  fn: () => void;
}

/** A Clock whose time moves only when a test calls `advance`, firing due timers in order. */
export class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private timers: FakeTimer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: FakeTimer = { at: this.t + ms, fn, unref: () => timer };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = target;
  }
}

/**
 * An in-process serial port: what the driver writes is recorded, what a test `feed`s
 * arrives as if the device sent it, synchronously. `failWrites` makes every write fail
 * the way a vanished pty does on Linux (EIO, and no `close` event).
 */
export class FakeLink extends Duplex implements SerialLink {
  isOpen = false;
  failWrites = false;
  readonly written: string[] = [];

  constructor(readonly path: string) {
    super();
  }

  open(callback?: (err: Error | null) => void): void {
    this.isOpen = true;
    callback?.(null);
  }

  close(callback?: (err: Error | null) => void): void {
    this.isOpen = false;
    callback?.(null);
  }

  drain(callback?: (err: Error | null) => void): void {
    callback?.(null);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.failWrites) {
      callback(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
      return;
    }
    this.written.push(chunk.toString('latin1'));
    callback();
  }

  feed(data: string | Buffer): void {
    this.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Frames written so far, without CR LF; empty lines (flushes) left out. */
  get frames(): string[] {
    return this.written
      .join('')
      .split('\r\n')
      .filter((l) => l.length > 0);
  }
}

/** A port factory handing out FakeLinks, one per open, so a test can reach the current one. */
export function fakePortFactory(): {
  factory: PortFactory;
  links: FakeLink[];
  opens: number;
  unavailable: boolean;
  readonly current: FakeLink;
} {
  const state = {
    links: [] as FakeLink[],
    opens: 0,
    unavailable: false,
    get current(): FakeLink {
      const link = state.links[state.links.length - 1];
      if (!link) throw new Error('no port opened yet');
      return link;
    },
    factory: ((path: string) => {
      state.opens++;
      const link = new FakeLink(path);
      if (state.unavailable) {
        link.open = (callback) =>
          callback?.(Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' }));
      } else {
        state.links.push(link);
      }
      return link;
    }) as PortFactory,
  };
  return state;
}
