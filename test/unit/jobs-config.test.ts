import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../firmware-app/config/load.js';

describe('jobs configuration', () => {
  it('settles at 23:30 local time by default', () => {
    const { jobs } = parseConfig({});
    expect(jobs.settlement).toMatchObject({ enabled: true, cron: '30 23 * * *' });
    expect(jobs.timezone).toBe('');
  });

  it('takes the settlement time and zone from the environment', () => {
    const { jobs } = loadConfig({ env: { POS_JOBS_SETTLEMENT_CRON: '0 22 * * 1-5', POS_JOBS_TIMEZONE: 'Asia/Shanghai' } });
    expect(jobs.settlement.cron).toBe('0 22 * * 1-5');
    expect(jobs.timezone).toBe('Asia/Shanghai');
  });

  it('names the field when a cron expression or a zone is wrong', () => {
    expect(() => parseConfig({ jobs: { settlement: { cron: 'at half past eleven' } } })).toThrow(
      /jobs\.settlement\.cron: must be a cron expression/,
    );
    expect(() => parseConfig({ jobs: { timezone: 'Mars/Olympus' } })).toThrow(/jobs\.timezone: must be an IANA time zone/);
  });
});
