import { PosError } from '../../drivers/base/errors.js';

export class CronError extends PosError {}

const HOUR_MS = 3_600_000;
/** Five years of hours: a valid expression that matches nothing that far (e.g. 30 February) is an error. */
const SEARCH_HOURS = 5 * 366 * 24;

/** What crontab(5) calls the short forms; each stands for a five-field expression. */
const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  min: number;
  max: number;
  /** Names standing for min, min + 1, ... (months, weekdays). */
  names?: readonly string[];
}

const SECOND: FieldSpec = { min: 0, max: 59 };
const MINUTE: FieldSpec = { min: 0, max: 59 };
const HOUR: FieldSpec = { min: 0, max: 23 };
const DAY: FieldSpec = { min: 1, max: 31 };
const MONTH: FieldSpec = { min: 1, max: 12, names: MONTHS };
/** 0 and 7 are both Sunday. */
const WEEKDAY: FieldSpec = { min: 0, max: 7, names: WEEKDAYS };

/** The values one field allows; `star` when the field was written starting with `*` (the day rule depends on it). */
interface Field {
  allows: boolean[];
  sorted: number[];
  star: boolean;
}

function value(text: string, spec: FieldSpec): number | undefined {
  const named = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return spec.min + named;
  if (!/^\d{1,2}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= spec.min && n <= spec.max ? n : undefined;
}

/** One field: a comma list of `*`, `N` or `N-M`, each optionally `/STEP`; undefined when malformed. */
function parseField(text: string, spec: FieldSpec): Field | undefined {
  const allows = new Array<boolean>(spec.max + 1).fill(false);
  for (const item of text.split(',')) {
    const m = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d{1,2}))?$/i.exec(item);
    if (!m) return undefined;
    const [, range = '', stepText] = m;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (step < 1) return undefined;
    let from = spec.min;
    let to = spec.max;
    if (range !== '*') {
      const [a = '', b] = range.split('-');
      const lo = value(a, spec);
      const hi = b === undefined ? (stepText === undefined ? lo : undefined) : value(b, spec);
      if (lo === undefined || hi === undefined || hi < lo) return undefined;
      from = lo;
      to = hi;
    }
    for (let v = from; v <= to; v += step) allows[v] = true;
  }
  if (spec === WEEKDAY && allows[7]) allows[0] = true;
  const sorted = allows.flatMap((ok, v) => (ok ? [v] : []));
  return { allows, sorted, star: text.startsWith('*') };
}

interface Fields {
  second: Field;
  minute: Field;
  hour: Field;
  day: Field;
  month: Field;
  weekday: Field;
}

/** Five fields (minute hour day-of-month month day-of-week), or six with seconds first, or a nickname. */
function parseExpression(expression: string): Fields | undefined {
  const trimmed = expression.trim();
  const parts = (NICKNAMES[trimmed.toLowerCase()] ?? trimmed).split(/\s+/);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6) return undefined;
  const specs = [SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY];
  const fields = parts.map((p, i) => parseField(p, specs[i]!));
  if (fields.some((f) => f === undefined)) return undefined;
  const [second, minute, hour, day, month, weekday] = fields as Field[];
  return { second: second!, minute: minute!, hour: hour!, day: day!, month: month!, weekday: weekday! };
}

export function validateCron(expression: string): boolean {
  return parseExpression(expression) !== undefined;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock fields of an instant in one zone. */
export interface LocalTime {
  second: number;
  minute: number;
  hour: number;
  day: number;
  month: number;
  /** 0 = Sunday. */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * The wall clock in `timezone` at `at`; one formatter per zone, built once. The system's zone
 * (undefined) is read with Date's own getters: a first Intl formatter maps about 8 MB of the
 * runtime's locale data into memory, which a terminal on its system zone never needs.
 */
export function localTime(at: number, timezone: string | undefined): LocalTime {
  if (timezone === undefined) {
    const d = new Date(at);
    return {
      second: d.getSeconds(),
      minute: d.getMinutes(),
      hour: d.getHours(),
      day: d.getDate(),
      month: d.getMonth() + 1,
      weekday: d.getDay(),
    };
  }
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      weekday: 'short',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  const t: LocalTime = { second: 0, minute: 0, hour: 0, day: 0, month: 0, weekday: 0 };
  for (const p of f.formatToParts(new Date(at))) {
    if (p.type === 'weekday') t.weekday = WEEKDAYS.indexOf(p.value.toLowerCase());
    else if (p.type in t) t[p.type as keyof LocalTime] = Number(p.value);
  }
  return t;
}

/**
 * A cron expression evaluated in a time zone: whether a wall-clock time is a slot, and
 * "when is the next slot after t" / "when was the last slot at or before t" for any t (the
 * catch-up at start-up needs the second). crontab(5) semantics: when both day-of-month and
 * day-of-week are restricted (neither starts with `*`), a day matching either one is a slot.
 */
export class CronExpression {
  private readonly fields: Fields;

  constructor(
    readonly expression: string,
    readonly timezone: string | undefined,
  ) {
    const fields = parseExpression(expression);
    if (!fields) throw new CronError('JOB_CRON_INVALID', `"${expression}" is not a cron expression`, { expression });
    this.fields = fields;
  }

  /** Whether a slot can fall on any second but :00 (the ticker then ticks every second, not every minute). */
  get usesSeconds(): boolean {
    const s = this.fields.second.sorted;
    return s.length !== 1 || s[0] !== 0;
  }

  /**
   * Whether `at` is a slot; `local` is its wall clock when the caller already has it (the
   * ticker reads it once per tick for every job). On the day the clocks go back, an expression
   * with a fixed hour has no slot in the repeated hour's second pass, so a nightly job runs once.
   */
  matches(at: number, local: LocalTime = localTime(at, this.timezone)): boolean {
    const f = this.fields;
    if (f.second.allows[local.second] !== true || f.minute.allows[local.minute] !== true || !this.hourMatches(local)) return false;
    if (f.hour.star) return true;
    const anHourBefore = localTime(at - HOUR_MS, this.timezone);
    return !(anHourBefore.day === local.day && anHourBefore.hour === local.hour && anHourBefore.minute === local.minute);
  }

  /** Hour, day and month: what a whole local hour has in common. */
  private hourMatches(t: LocalTime): boolean {
    const f = this.fields;
    if (f.hour.allows[t.hour] !== true || f.month.allows[t.month] !== true) return false;
    const day = f.day.allows[t.day] === true;
    const weekday = f.weekday.allows[t.weekday] === true;
    return f.day.star || f.weekday.star ? day && weekday : day || weekday;
  }

  /** The first slot strictly after `after`. */
  next(after: number): number {
    const found = this.walk(after, 1, (t) => t > after);
    if (found === undefined)
      throw new CronError('JOB_CRON_NEVER', `"${this.expression}" has no slot within five years`, { expression: this.expression });
    return found;
  }

  /** The last slot at or before `at`, or undefined if there is none within five years. */
  previous(at: number): number | undefined {
    return this.walk(at, -1, (t) => t <= at);
  }

  /**
   * Walks local hours from the one holding `from` (forwards or backwards), reading the wall
   * clock once per hour; only an hour whose hour, day and month fit is searched minute by minute.
   */
  private walk(from: number, direction: 1 | -1, inRange: (t: number) => boolean): number | undefined {
    const minutes = direction === 1 ? this.fields.minute.sorted : [...this.fields.minute.sorted].reverse();
    const seconds = direction === 1 ? this.fields.second.sorted : [...this.fields.second.sorted].reverse();
    let at = from;
    for (let i = 0; i < SEARCH_HOURS; i++) {
      const whole = Math.floor(at / 1000) * 1000;
      const local = localTime(whole, this.timezone);
      const hourStart = whole - (local.minute * 60 + local.second) * 1000;
      if (this.hourMatches(local)) {
        for (const m of minutes) {
          for (const s of seconds) {
            const t = hourStart + (m * 60 + s) * 1000;
            if (inRange(t) && this.matches(t)) return t;
          }
        }
      }
      at = direction === 1 ? hourStart + HOUR_MS + 1000 : hourStart - 1000;
    }
    return undefined;
  }
}
