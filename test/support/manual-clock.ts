import type { Clock, TimerHandle } from '../../drivers/base/clock.js';

/** A clock that moves only when the test says so; timers fire in due order as it advances. */
export class ManualClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void; unref(): void }[] = [];
  private seq = 0;

  constructor(private current = 1_800_000_000_000) {}

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = { at: this.current + Math.max(0, ms), seq: ++this.seq, fn, unref: () => undefined };
    this.timers.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Pending timers, for assertions on what is scheduled. */
  get pending(): number[] {
    return this.timers.map((t) => t.at - this.current).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = end;
  }
}
