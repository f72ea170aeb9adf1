import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { CronExpression, localTime, type LocalTime } from './cron.js';

/** One registered cron trigger. */
export interface Trigger {
  stop(): void;
}

/**
 * Where ticks come from. Production uses the `CronTicker`; the scheduler's rules (overlap,
 * history, catch-up) are tested with a fake clock, not sleeps.
 */
export interface Schedule {
  /** Calls `onTick` with each slot's time (ms) as the expression comes due in `timezone`. */
  every(name: string, expression: string, timezone: string | undefined, onTick: (slotAt: number) => void): Trigger;
}

const MINUTE_MS = 60_000;
const SECOND_MS = 1_000;

interface Entry {
  cron: CronExpression;
  onTick: (slotAt: number) => void;
}

/**
 * Every job's trigger on one timer: it wakes at each whole minute (each whole second while an
 * expression has a seconds field), reads the wall clock once per time zone and calls the jobs
 * whose expression matches. Overlap is the scheduler's business (it records the skipped
 * trigger), so a tick only calls back and returns. The timer does not keep the process alive.
 */
export class CronTicker implements Schedule {
  private readonly entries = new Set<Entry>();
  private timer: TimerHandle | undefined;

  constructor(private readonly clock: Clock) {}

  every(_name: string, expression: string, timezone: string | undefined, onTick: (slotAt: number) => void): Trigger {
    const entry: Entry = { cron: new CronExpression(expression, timezone), onTick };
    this.entries.add(entry);
    this.arm(this.clock.now());
    return {
      stop: () => {
        this.entries.delete(entry);
        this.arm(this.clock.now());
      },
    };
  }

  /** Sets the one timer for the first tick after `after`, or none when nothing is registered. */
  private arm(after: number): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.entries.size === 0) return;
    const step = [...this.entries].some((e) => e.cron.usesSeconds) ? SECOND_MS : MINUTE_MS;
    const at = (Math.floor(after / step) + 1) * step;
    this.timer = this.clock.setTimeout(() => this.tick(at), at - this.clock.now());
    this.timer.unref?.();
  }

  private tick(at: number): void {
    this.timer = undefined;
    const byZone = new Map<string, LocalTime>();
    for (const { cron, onTick } of [...this.entries]) {
      const zone = cron.timezone ?? '';
      let local = byZone.get(zone);
      if (!local) {
        local = localTime(at, cron.timezone);
        byZone.set(zone, local);
      }
      if (cron.matches(at, local)) onTick(at);
    }
    // A timer that fired early must not tick the same slot twice; one that fired late skips to the next.
    this.arm(Math.max(at, this.clock.now()));
  }
}
