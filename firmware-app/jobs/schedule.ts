import cron from 'node-cron';

/** One registered cron trigger. */
export interface Trigger {
  stop(): void;
}

/**
 * Where ticks come from. Production uses node-cron; tests drive ticks themselves, so the
 * scheduler's rules (overlap, history, catch-up) are tested with a fake clock, not sleeps.
 */
export interface Schedule {
  /** Calls `onTick` with each slot's time (ms) as the expression comes due in `timezone`. */
  every(name: string, expression: string, timezone: string | undefined, onTick: (slotAt: number) => void): Trigger;
}

/**
 * node-cron behind the Schedule port. Overlap is the scheduler's business (it records the
 * skipped trigger), so node-cron's own overlap guard stays off and the callback returns at once.
 */
export const nodeCronSchedule: Schedule = {
  every(name, expression, timezone, onTick) {
    const task = cron.createTask(expression, (ctx) => onTick(ctx.date.getTime()), { name, timezone, unref: true });
    void task.start();
    return {
      stop: () => {
        void task.destroy();
      },
    };
  },
};
