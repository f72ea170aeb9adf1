import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock, type Clock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import type { Config } from '../../firmware-app/config/schema.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { inProcessConfig } from '../support/terminal-process.js';

/** Real timers, but "now" is wherever the test puts the calendar: the power-off happens between instances. */
function calendarClock(iso: string): Clock {
  const offset = Date.parse(iso) - Date.now();
  return { ...systemClock, now: () => Date.now() + offset };
}

/**
 * The Sunday power-off: the terminal is off at 23:30 and comes back the next morning. It
 * settles the missed batch once at start-up, against the simulated acquirer over TCP.
 */
describe('settlement catch-up after the terminal was off at settlement time', () => {
  let sim: Simulator;
  let config: Config;

  beforeAll(async () => {
    sim = await Simulator.start();
    config = inProcessConfig(sim, 'pos-catchup-', { jobs: { timezone: 'Asia/Shanghai' } });
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
  }, 60_000);

  async function session(iso: string, body: (t: App) => Promise<void>): Promise<void> {
    const terminal = compose(config, { logger: silentLogger, clock: calendarClock(iso) });
    try {
      await terminal.start();
      await terminal.jobs.idle();
      await body(terminal);
    } finally {
      await terminal.stop();
    }
  }

  it('settles once on the next start-up, and not again on the start after that', async () => {
    const settlements = () => sim.host.received.filter((r) => r.message.mti === '0500');

    // Sunday afternoon (Shanghai): two sales, then the power goes off.
    await session('2026-11-22T16:00:00+08:00', async (t) => {
      expect((await t.terminal.sale(1500)).result).toBe('approved');
      expect((await t.terminal.sale(2500)).result).toBe('approved');
    });
    expect(settlements()).toHaveLength(0);

    // Monday morning: the 23:30 slot passed while off; start-up settles batch 1.
    await session('2026-11-23T08:10:00+08:00', async (t) => {
      const runs = t.jobs.history({ job: 'settlement' });
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        outcome: 'ok',
        scheduledFor: Date.parse('2026-11-22T23:30:00+08:00'),
        detail: expect.objectContaining({ reason: 'catch-up' }),
      });
      expect(t.settlement.batch(1)?.state).toBe('closed');
    });
    expect(settlements()).toHaveLength(1);
    expect(sim.host.ledger.settlement('TERM0001', 1)).toMatchObject({
      responseCode: '00',
      terminalTotals: '000002000000004000000000000000000000',
    });

    // A restart later that morning owes nothing.
    await session('2026-11-23T09:00:00+08:00', async (t) => {
      expect(t.jobs.history({ job: 'settlement' })).toHaveLength(1);
    });
    expect(settlements()).toHaveLength(1);
  }, 180_000);

  it('network down at settlement time: the run fails, and settles by itself once the host is back', async () => {
    const cfg = parseConfig({
      ...config,
      // A terminal of its own: the host keys its ledger by terminal id + STAN.
      terminal: { ...config.terminal, id: 'TERM0002' },
      dataDir: mkdtempSync(join(tmpdir(), 'pos-retry-')),
      host: { ...config.host, reconnectMinMs: 100, reconnectMaxMs: 500 },
      jobs: { ...config.jobs, settlement: { ...config.jobs.settlement, retryMs: 1000, responseTimeoutMs: 5000 } },
    });
    const terminal = compose(cfg, { logger: silentLogger });
    try {
      await terminal.start();
      expect((await terminal.terminal.sale(4200)).result).toBe('approved');
      await sim.host.stop();
      const offlineBy = Date.now() + 30_000;
      while (terminal.link.state !== 'offline') {
        if (Date.now() > offlineBy) throw new Error('the link did not notice the host going down');
        await new Promise((r) => setTimeout(r, 50));
      }
      const failed = await terminal.terminal.settle();
      expect(failed).toMatchObject({ outcome: 'failed' });
      expect(failed.error).toMatch(/^HOST_UNREACHABLE/);
      expect(terminal.settlement.batch(1)?.state).toBe('settling');

      await sim.host.start();
      const deadline = Date.now() + 60_000;
      while (terminal.settlement.batch(1)?.state !== 'closed') {
        if (Date.now() > deadline) throw new Error('batch 1 was not settled after the host came back');
        await new Promise((r) => setTimeout(r, 100));
      }
      await terminal.jobs.idle();
      expect(terminal.jobs.history({ job: 'settlement' })[0]).toMatchObject({
        outcome: 'ok',
        detail: expect.objectContaining({ reason: 'retry' }),
      });
    } finally {
      await terminal.stop();
    }
  }, 180_000);
});
