import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import { silentLogger } from '../../drivers/base/logger.js';
import { CronTicker } from '../../firmware-app/jobs/schedule.js';
import { JobScheduler, type Job, type JobContext } from '../../firmware-app/jobs/scheduler.js';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { storeOf } from '../support/store.js';

/** Time that moves only when the test says; timers fire in order as it moves. */
class TestClock implements Clock {
  private timers: { at: number; fn: () => void }[] = [];
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return timer as TimerHandle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }
  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = due.at;
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = target;
    await new Promise((r) => setImmediate(r));
  }
}

const at = (iso: string) => Date.parse(iso);

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('job scheduler', () => {
  let db: Db;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'jobs-'));
    db = openDatabase(join(dir, 'pos.db'));
  });
  afterEach(() => db.close());

  function settlementJob(calls: JobContext[], impl: () => Promise<void> = async () => undefined): Job {
    return {
      name: 'settlement',
      cron: '30 23 * * *',
      run: async (ctx) => {
        calls.push(ctx);
        await impl();
      },
    };
  }

  function scheduler(clock: TestClock, jobs: Job[], database = db): JobScheduler {
    return new JobScheduler(
      { store: storeOf(database), clock, logger: silentLogger, schedule: new CronTicker(clock), timezone: 'UTC' },
      jobs,
    );
  }

  it('runs settlement at 23:30 and records the run', async () => {
    const clock = new TestClock(at('2026-11-23T20:00:00Z'));
    const calls: JobContext[] = [];
    const s = scheduler(clock, [settlementJob(calls)]);
    s.start();
    await clock.advanceTo(at('2026-11-23T23:29:59Z'));
    expect(calls).toHaveLength(0);
    await clock.advanceTo(at('2026-11-23T23:30:00Z'));
    await s.idle();
    expect(calls).toEqual([{ slotAt: at('2026-11-23T23:30:00Z'), reason: 'scheduled' }]);
    const [run] = s.history({ job: 'settlement' });
    expect(run).toMatchObject({
      outcome: 'ok',
      scheduledFor: at('2026-11-23T23:30:00Z'),
      startedAt: at('2026-11-23T23:30:00Z'),
      error: null,
    });
    expect(run!.finishedAt).not.toBeNull();
    await s.stop(1000);
  });

  it('settles once at start-up after being off across 23:30, and not again on the next start', async () => {
    const calls: JobContext[] = [];
    const clock = new TestClock(at('2026-11-21T09:00:00Z'));
    const first = scheduler(clock, [settlementJob(calls)]);
    first.start();
    await clock.advanceTo(at('2026-11-21T18:00:00Z'));
    await first.stop(1000);
    expect(calls).toHaveLength(0);

    // Off from Saturday evening to Monday morning: two slots missed, one catch-up run.
    clock.t = at('2026-11-23T08:00:00Z');
    const second = scheduler(clock, [settlementJob(calls)]);
    second.start();
    await second.idle();
    expect(calls).toEqual([{ slotAt: at('2026-11-22T23:30:00Z'), reason: 'catch-up' }]);
    await second.stop(1000);

    clock.t = at('2026-11-23T08:05:00Z');
    const third = scheduler(clock, [settlementJob(calls)]);
    third.start();
    await third.idle();
    expect(calls).toHaveLength(1);
    await third.stop(1000);
  });

  it('does not run a slot that was due before the terminal first started', async () => {
    const calls: JobContext[] = [];
    const clock = new TestClock(at('2026-11-23T08:00:00Z'));
    const s = scheduler(clock, [settlementJob(calls)]);
    s.start();
    await s.idle();
    expect(calls).toHaveLength(0);
    await s.stop(1000);
  });

  it('never runs a job twice at once: an overlapping trigger is recorded as skipped', async () => {
    const clock = new TestClock(at('2026-11-23T20:00:00Z'));
    const gate = deferred();
    const calls: JobContext[] = [];
    const s = scheduler(clock, [settlementJob(calls, () => gate.promise)]);
    s.start();
    const first = s.trigger('settlement', clock.now(), 'manual');
    const second = await s.trigger('settlement', clock.now(), 'scheduled');
    expect(second.outcome).toBe('skipped');
    expect(second.error).toMatch(/JOB_BUSY/);
    expect(calls).toHaveLength(1);
    gate.resolve();
    expect((await first).outcome).toBe('ok');
    expect((await s.trigger('settlement', clock.now(), 'manual')).outcome).toBe('ok');
    expect(calls).toHaveLength(2);
    await s.stop(1000);
  });

  it('records a failing run with its error and runs the job again at the next slot', async () => {
    const clock = new TestClock(at('2026-11-23T20:00:00Z'));
    let fail = true;
    const calls: JobContext[] = [];
    const s = scheduler(clock, [
      settlementJob(calls, async () => {
        if (fail) throw new PosError('HOST_UNREACHABLE', 'acquirer host unreachable: not connected', { reason: 'not connected' });
      }),
    ]);
    s.start();
    await clock.advanceTo(at('2026-11-23T23:30:00Z'));
    await s.idle();
    expect(s.history({ job: 'settlement' })[0]).toMatchObject({
      outcome: 'failed',
      error: 'HOST_UNREACHABLE: acquirer host unreachable: not connected',
    });
    fail = false;
    await clock.advanceTo(at('2026-11-24T23:30:00Z'));
    await s.idle();
    expect(calls.map((c) => c.slotAt)).toEqual([at('2026-11-23T23:30:00Z'), at('2026-11-24T23:30:00Z')]);
    expect(s.history({ job: 'settlement' })[0]).toMatchObject({ outcome: 'ok', scheduledFor: at('2026-11-24T23:30:00Z') });
    await s.stop(1000);
  });

  it('tries a failed settlement again after its retry delay, for the same slot, until it succeeds', async () => {
    const clock = new TestClock(at('2026-11-23T20:00:00Z'));
    let failures = 2;
    const calls: JobContext[] = [];
    const s = scheduler(clock, [
      {
        name: 'settlement',
        cron: '30 23 * * *',
        retryMs: 600_000,
        run: async (ctx) => {
          calls.push(ctx);
          if (failures-- > 0) throw new PosError('HOST_UNREACHABLE', 'acquirer host unreachable: not connected');
        },
      },
    ]);
    s.start();
    await clock.advanceTo(at('2026-11-24T01:00:00Z'));
    await s.idle();
    expect(calls).toEqual([
      { slotAt: at('2026-11-23T23:30:00Z'), reason: 'scheduled' },
      { slotAt: at('2026-11-23T23:30:00Z'), reason: 'retry' },
      { slotAt: at('2026-11-23T23:30:00Z'), reason: 'retry' },
    ]);
    expect(s.history({ job: 'settlement' }).map((r) => [r.outcome, r.startedAt])).toEqual([
      ['ok', at('2026-11-23T23:50:00Z')],
      ['failed', at('2026-11-23T23:40:00Z')],
      ['failed', at('2026-11-23T23:30:00Z')],
    ]);
    await s.stop(1000);
  });

  it('does not retry early a failure the job says is final', async () => {
    const clock = new TestClock(at('2026-11-23T20:00:00Z'));
    const calls: JobContext[] = [];
    const s = scheduler(clock, [
      {
        name: 'settlement',
        cron: '30 23 * * *',
        retryMs: 600_000,
        shouldRetry: (err) => !(err instanceof PosError && err.code === 'SETTLEMENT_OUT_OF_BALANCE'),
        run: async (ctx) => {
          calls.push(ctx);
          throw new PosError('SETTLEMENT_OUT_OF_BALANCE', 'batch 000001 out of balance');
        },
      },
    ]);
    s.start();
    await clock.advanceTo(at('2026-11-24T01:00:00Z'));
    await s.idle();
    expect(calls).toHaveLength(1);
    await s.stop(1000);
  });

  it('retries at start-up a slot whose run failed or was cut short by a power loss', async () => {
    const calls: JobContext[] = [];
    const clock = new TestClock(at('2026-11-23T20:00:00Z'));
    const gate = deferred();
    const first = scheduler(clock, [settlementJob(calls, () => gate.promise)]);
    first.start();
    await clock.advanceTo(at('2026-11-23T23:30:00Z'));
    expect(first.isRunning('settlement')).toBe(true);
    // Power loss: the process is gone with the run open; nothing else is written.

    clock.t = at('2026-11-24T07:00:00Z');
    const second = scheduler(clock, [settlementJob(calls)]);
    second.start();
    await second.idle();
    const runs = second.history({ job: 'settlement' });
    expect(runs.map((r) => [r.outcome, r.scheduledFor])).toEqual([
      ['ok', at('2026-11-23T23:30:00Z')],
      ['failed', at('2026-11-23T23:30:00Z')],
    ]);
    expect(runs[1]!.error).toMatch(/JOB_INTERRUPTED/);
    expect(calls.map((c) => c.reason)).toEqual(['scheduled', 'catch-up']);
    await second.stop(1000);
    gate.resolve();
  });

  it('keeps a job switched off in the configuration off the schedule, yet runnable by hand', async () => {
    const clock = new TestClock(at('2026-11-22T20:00:00Z'));
    const calls: JobContext[] = [];
    const first = scheduler(clock, [{ ...settlementJob(calls), manualOnly: true }]);
    first.start();
    await clock.advanceTo(at('2026-11-23T23:31:00Z'));
    expect(calls).toHaveLength(0);
    await first.stop(1000);
    const again = scheduler(clock, [{ ...settlementJob(calls), manualOnly: true }]);
    again.start();
    await again.idle();
    expect(calls).toHaveLength(0);
    expect((await again.runNow('settlement')).outcome).toBe('ok');
    expect(calls.map((c) => c.reason)).toEqual(['manual']);
    await again.stop(1000);
  });

  it('does not let a slow job hold back the others', async () => {
    const clock = new TestClock(at('2026-11-23T23:29:30Z'));
    const stuck = deferred();
    const beats: number[] = [];
    const s = scheduler(clock, [
      { name: 'settlement', cron: '30 23 * * *', run: () => stuck.promise },
      { name: 'heartbeat', cron: '* * * * *', run: async ({ slotAt }) => void beats.push(slotAt) },
    ]);
    s.start();
    await clock.advanceTo(at('2026-11-23T23:33:00Z'));
    expect(s.isRunning('settlement')).toBe(true);
    expect(beats).toEqual([at('2026-11-23T23:30:00Z'), at('2026-11-23T23:31:00Z'), at('2026-11-23T23:32:00Z'), at('2026-11-23T23:33:00Z')]);
    stuck.resolve();
    await s.stop(1000);
  });
});

describe('the cron ticker behind the Schedule port', () => {
  it('ticks with the slot time when the expression comes due in the configured zone', async () => {
    const clock = new TestClock(at('2026-11-23T15:29:00Z'));
    const ticker = new CronTicker(clock);
    const ticks: number[] = [];
    const trigger = ticker.every('settlement', '30 23 * * *', 'Asia/Shanghai', (slot) => ticks.push(slot));
    await clock.advanceTo(at('2026-11-23T15:29:59Z'));
    expect(ticks).toEqual([]);
    await clock.advanceTo(at('2026-11-23T15:30:01Z'));
    expect(ticks).toEqual([at('2026-11-23T15:30:00Z')]);
    trigger.stop();
    await clock.advanceTo(at('2026-11-24T15:31:00Z'));
    expect(ticks).toHaveLength(1);
  });

  it('drives every job from one timer, and sets none once every trigger stopped', async () => {
    const clock = new TestClock(at('2026-11-23T23:29:30Z'));
    const ticker = new CronTicker(clock);
    const ticks: string[] = [];
    const triggers = [
      ticker.every('settlement', '30 23 * * *', 'UTC', (slot) => ticks.push(`settlement ${new Date(slot).toISOString()}`)),
      ticker.every('heartbeat', '*/2 * * * *', 'UTC', (slot) => ticks.push(`heartbeat ${new Date(slot).toISOString()}`)),
      ticker.every('retention', '0 3 * * *', 'UTC', () => ticks.push('retention')),
    ];
    expect(clock.pending).toBe(1);
    await clock.advanceTo(at('2026-11-23T23:32:00Z'));
    expect(ticks).toEqual([
      'settlement 2026-11-23T23:30:00.000Z',
      'heartbeat 2026-11-23T23:30:00.000Z',
      'heartbeat 2026-11-23T23:32:00.000Z',
    ]);
    expect(clock.pending).toBe(1);
    for (const t of triggers) t.stop();
    expect(clock.pending).toBe(0);
  });

  it('ticks every second while an expression has a seconds field', async () => {
    const clock = new TestClock(at('2026-11-23T10:00:00.400Z'));
    const ticker = new CronTicker(clock);
    const ticks: number[] = [];
    const trigger = ticker.every('heartbeat', '*/2 * * * * *', 'UTC', (slot) => ticks.push(slot));
    await clock.advanceTo(at('2026-11-23T10:00:05Z'));
    expect(ticks).toEqual([at('2026-11-23T10:00:02Z'), at('2026-11-23T10:00:04Z')]);
    trigger.stop();
  });
});
