import cron from 'node-cron';
import { PosError } from '../../drivers/base/errors.js';

export class CronError extends PosError {}

const HOUR_MS = 3_600_000;
/** Five years of hours: a valid expression that matches nothing that far (e.g. 30 February) is an error. */
const SEARCH_HOURS = 5 * 366 * 24;

export function validateCron(expression: string): boolean {
  return cron.validate(expression);
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function minuteSecondIn(at: number, timezone: string | undefined): { minute: number; second: number } {
  const key = timezone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, minute: 'numeric', second: 'numeric', hourCycle: 'h23' });
    formatters.set(key, f);
  }
  let minute = 0;
  let second = 0;
  for (const p of f.formatToParts(new Date(at))) {
    if (p.type === 'minute') minute = Number(p.value);
    if (p.type === 'second') second = Number(p.value);
  }
  return { minute, second };
}

/**
 * A cron expression evaluated in a time zone, able to answer "when is the next slot after t"
 * and "when was the last slot at or before t" for any t, not only for the wall clock (node-cron
 * answers those for `new Date()` only). The catch-up at start-up needs the second question.
 * Matching itself is node-cron's, so the two never disagree about what a slot is.
 */
export class CronExpression {
  private readonly task: ReturnType<typeof cron.createTask>;
  private readonly minutes: number[];
  private readonly seconds: number[];

  constructor(
    readonly expression: string,
    readonly timezone: string | undefined,
  ) {
    if (!cron.validate(expression)) throw new CronError('JOB_CRON_INVALID', `"${expression}" is not a cron expression`, { expression });
    this.task = cron.createTask(expression, () => undefined, { timezone });
    const fields = cron.parse(expression);
    this.minutes = [...fields.minute].sort((a, b) => a - b);
    this.seconds = [...fields.second].sort((a, b) => a - b);
  }

  matches(at: number): boolean {
    return this.task.match(new Date(at));
  }

  /** The first slot strictly after `after`. */
  next(after: number): number {
    let hourStart = this.localHourStart(after);
    for (let i = 0; i < SEARCH_HOURS; i++, hourStart = this.localHourStart(hourStart + HOUR_MS + 1000)) {
      for (const m of this.minutes) {
        for (const s of this.seconds) {
          const t = hourStart + (m * 60 + s) * 1000;
          if (t > after && this.matches(t)) return t;
        }
      }
    }
    throw new CronError('JOB_CRON_NEVER', `"${this.expression}" has no slot within five years`, { expression: this.expression });
  }

  /** The last slot at or before `at`, or undefined if there is none within five years. */
  previous(at: number): number | undefined {
    let hourStart = this.localHourStart(at);
    const minutes = [...this.minutes].reverse();
    const seconds = [...this.seconds].reverse();
    for (let i = 0; i < SEARCH_HOURS; i++, hourStart = this.localHourStart(hourStart - 1000)) {
      for (const m of minutes) {
        for (const s of seconds) {
          const t = hourStart + (m * 60 + s) * 1000;
          if (t <= at && this.matches(t)) return t;
        }
      }
    }
    return undefined;
  }

  /** Start of the local hour containing `at` (zones with half-hour offsets included). */
  private localHourStart(at: number): number {
    const whole = Math.floor(at / 1000) * 1000;
    const { minute, second } = minuteSecondIn(whole, this.timezone);
    return whole - (minute * 60 + second) * 1000;
  }
}
