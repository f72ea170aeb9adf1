import { afterEach, describe, expect, it } from 'vitest';
import { CronExpression, localTime, validateCron } from '../../firmware-app/jobs/cron.js';

const utc = (iso: string) => Date.parse(iso);

describe('cron slots in a time zone', () => {
  it('finds the next and the previous 23:30 in Shanghai time', () => {
    const c = new CronExpression('30 23 * * *', 'Asia/Shanghai');
    // 23:30 in Shanghai is 15:30 UTC.
    expect(c.next(utc('2026-11-23T10:00:00Z'))).toBe(utc('2026-11-23T15:30:00Z'));
    expect(c.next(utc('2026-11-23T15:30:00Z'))).toBe(utc('2026-11-24T15:30:00Z'));
    expect(c.previous(utc('2026-11-23T15:30:00Z'))).toBe(utc('2026-11-23T15:30:00Z'));
    expect(c.previous(utc('2026-11-23T15:29:59Z'))).toBe(utc('2026-11-22T15:30:00Z'));
  });

  it('reads the same expression differently in another zone', () => {
    expect(new CronExpression('30 23 * * *', 'UTC').next(utc('2026-11-23T10:00:00Z'))).toBe(utc('2026-11-23T23:30:00Z'));
    expect(new CronExpression('30 23 * * *', 'Asia/Kolkata').next(utc('2026-11-23T10:00:00Z'))).toBe(utc('2026-11-23T18:00:00Z'));
  });

  it('honours weekdays and steps', () => {
    // Sundays only: 2026-11-22 is a Sunday.
    const sunday = new CronExpression('0 3 * * 0', 'UTC');
    expect(sunday.next(utc('2026-11-23T00:00:00Z'))).toBe(utc('2026-11-29T03:00:00Z'));
    expect(sunday.previous(utc('2026-11-23T00:00:00Z'))).toBe(utc('2026-11-22T03:00:00Z'));
    const every5 = new CronExpression('*/5 * * * *', 'UTC');
    expect(every5.next(utc('2026-11-23T10:02:10Z'))).toBe(utc('2026-11-23T10:05:00Z'));
    expect(every5.previous(utc('2026-11-23T10:02:10Z'))).toBe(utc('2026-11-23T10:00:00Z'));
  });

  it('skips a wall-clock time that does not exist on a spring-forward day', () => {
    // Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29.
    const c = new CronExpression('30 2 * * *', 'Europe/Berlin');
    expect(c.next(utc('2026-03-28T12:00:00Z'))).toBe(utc('2026-03-30T00:30:00Z'));
  });

  it('runs a nightly job once on the day the clocks go back, in the first pass of the repeated hour', () => {
    // Europe/Berlin goes from 03:00 back to 02:00 on 2026-10-25: 02:30 happens at 00:30 and at 01:30 UTC.
    const nightly = new CronExpression('30 2 * * *', 'Europe/Berlin');
    expect(nightly.next(utc('2026-10-24T12:00:00Z'))).toBe(utc('2026-10-25T00:30:00Z'));
    expect(nightly.matches(utc('2026-10-25T01:30:00Z'))).toBe(false);
    expect(nightly.next(utc('2026-10-25T00:30:00Z'))).toBe(utc('2026-10-26T01:30:00Z'));
    expect(nightly.previous(utc('2026-10-25T02:00:00Z'))).toBe(utc('2026-10-25T00:30:00Z'));
    // An expression with no fixed hour follows real time through both passes.
    const quarterly = new CronExpression('*/15 * * * *', 'Europe/Berlin');
    expect(quarterly.matches(utc('2026-10-25T00:30:00Z'))).toBe(true);
    expect(quarterly.matches(utc('2026-10-25T01:30:00Z'))).toBe(true);
  });

  it('reads the expression in the configured zone on a DST day, not in UTC', () => {
    // New York springs forward on 2026-03-08: 23:30 local is 04:30 UTC before, 03:30 UTC after.
    const c = new CronExpression('30 23 * * *', 'America/New_York');
    expect(c.next(utc('2026-03-07T12:00:00Z'))).toBe(utc('2026-03-08T04:30:00Z'));
    expect(c.next(utc('2026-03-08T04:30:00Z'))).toBe(utc('2026-03-09T03:30:00Z'));
  });

  it('treats a day-of-month and a day-of-week that are both restricted as either one (crontab rule)', () => {
    // The 1st of the month or any Monday: 2026-11-30 is a Monday, 2026-12-01 a Tuesday.
    const c = new CronExpression('0 12 1 * mon', 'UTC');
    expect(c.next(utc('2026-11-24T00:00:00Z'))).toBe(utc('2026-11-30T12:00:00Z'));
    expect(c.next(utc('2026-11-30T12:00:00Z'))).toBe(utc('2026-12-01T12:00:00Z'));
    expect(c.next(utc('2026-12-01T12:00:00Z'))).toBe(utc('2026-12-07T12:00:00Z'));
    // A day-of-week starting with * leaves the day-of-month alone in charge.
    const firstOnly = new CronExpression('0 12 1 * *', 'UTC');
    expect(firstOnly.next(utc('2026-11-24T00:00:00Z'))).toBe(utc('2026-12-01T12:00:00Z'));
    const mondays = new CronExpression('0 12 * * 1', 'UTC');
    expect(mondays.next(utc('2026-11-24T00:00:00Z'))).toBe(utc('2026-11-30T12:00:00Z'));
  });

  it('reads lists, ranges, steps over ranges, month and weekday names, and 7 as Sunday', () => {
    const c = new CronExpression('0,30 8-18/5 * JAN-mar,dec sun,Sat', 'UTC');
    // Hours 8, 13, 18; December weekends: 2026-12-05 is a Saturday.
    expect(c.next(utc('2026-11-24T00:00:00Z'))).toBe(utc('2026-12-05T08:00:00Z'));
    expect(c.next(utc('2026-12-05T08:00:00Z'))).toBe(utc('2026-12-05T08:30:00Z'));
    expect(c.next(utc('2026-12-05T08:30:00Z'))).toBe(utc('2026-12-05T13:00:00Z'));
    expect(c.next(utc('2026-12-05T18:30:00Z'))).toBe(utc('2026-12-06T08:00:00Z'));
    expect(new CronExpression('0 3 * * 7', 'UTC').next(utc('2026-11-23T00:00:00Z'))).toBe(utc('2026-11-29T03:00:00Z'));
    expect(new CronExpression('0 3 * * 5-7', 'UTC').next(utc('2026-11-23T00:00:00Z'))).toBe(utc('2026-11-27T03:00:00Z'));
  });

  it('takes a leading seconds field and the @ short forms', () => {
    const everyTen = new CronExpression('*/10 * * * * *', 'UTC');
    expect(everyTen.usesSeconds).toBe(true);
    expect(everyTen.next(utc('2026-11-23T10:00:01Z'))).toBe(utc('2026-11-23T10:00:10Z'));
    expect(new CronExpression('30 23 * * *', 'UTC').usesSeconds).toBe(false);
    expect(new CronExpression('@daily', 'UTC').next(utc('2026-11-23T10:00:00Z'))).toBe(utc('2026-11-24T00:00:00Z'));
    expect(new CronExpression('@hourly', 'UTC').previous(utc('2026-11-23T10:59:00Z'))).toBe(utc('2026-11-23T10:00:00Z'));
  });

  it('says a valid expression that never comes due has no slot', () => {
    const never = new CronExpression('0 0 30 2 *', 'UTC');
    expect(() => never.next(utc('2026-11-23T00:00:00Z'))).toThrow(/no slot within five years/);
    expect(never.previous(utc('2026-11-23T00:00:00Z'))).toBeUndefined();
  });

  it('rejects what is not a cron expression', () => {
    expect(() => new CronExpression('every night', 'UTC')).toThrow(/not a cron expression/);
    for (const bad of [
      '',
      '* * * *',
      '* * * * * * *',
      '60 * * * *',
      '* 24 * * *',
      '* * 0 * *',
      '* * * 13 *',
      '* * * * 8',
      '5-1 * * * *',
      '*/0 * * * *',
      '* * * foo *',
      '1/5 * * * *',
      '@often',
    ])
      expect(validateCron(bad), bad).toBe(false);
    for (const good of ['30 23 * * *', '0 0 1,15 * *', '0 9-17/2 * * mon-fri', '0 0 * * 0,7', '* * * * * *', '@weekly'])
      expect(validateCron(good), good).toBe(true);
  });
});

describe('cron slots in the system time zone (no jobs.timezone)', () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it('reads the wall clock the way the named zone does, across both DST changes', () => {
    process.env.TZ = 'Europe/Berlin';
    for (const iso of [
      '2026-03-29T00:59:59Z',
      '2026-03-29T01:00:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:30:00Z',
      '2026-11-23T15:30:07Z',
    ])
      expect(localTime(utc(iso), undefined), iso).toEqual(localTime(utc(iso), 'Europe/Berlin'));
    const nightly = new CronExpression('30 2 * * *', undefined);
    expect(nightly.next(utc('2026-10-24T12:00:00Z'))).toBe(utc('2026-10-25T00:30:00Z'));
    expect(nightly.next(utc('2026-10-25T00:30:00Z'))).toBe(utc('2026-10-26T01:30:00Z'));
  });
});
