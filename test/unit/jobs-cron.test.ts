import { describe, expect, it } from 'vitest';
import { CronExpression } from '../../firmware-app/jobs/cron.js';

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

  it('rejects what is not a cron expression', () => {
    expect(() => new CronExpression('every night', 'UTC')).toThrow(/not a cron expression/);
  });
});
