import type { Clock, TimerHandle } from '../../drivers/base/clock.js';
import { isPosError, PosError } from '../../drivers/base/errors.js';
import type { Logger } from '../logging/logger.js';
import type { JobRun, RunOutcome } from '../store/job-repo.js';
import type { Store } from '../store/store.js';
import { CronExpression } from './cron.js';
import type { Schedule, Trigger } from './schedule.js';

export type RunReason = 'scheduled' | 'catch-up' | 'manual' | 'retry';
export type { JobRun, RunOutcome } from '../store/job-repo.js';

export interface JobContext {
  /** The slot this run is for (ms); the run's start time for a manual run. */
  slotAt: number;
  reason: RunReason;
}

export interface Job {
  name: string;
  cron: string;
  /** Not on the schedule (switched off in the configuration); still runnable by hand. */
  manualOnly?: boolean;
  /**
   * After a failed run, try the same slot again this much later instead of waiting for the
   * next slot (settlement: the network may be back long before tomorrow night).
   */
  retryMs?: number;
  /** Whether a failure is worth that early retry; every failure is by default. */
  shouldRetry?(err: unknown): boolean;
  /** Returns what the run achieved, kept with the run's history (no card data). */
  run(ctx: JobContext): Promise<Record<string, unknown> | void>;
}

export class JobError extends PosError {}

/** Settings key: when the scheduler first ran on this database; slots before it were never owed. */
const SINCE_KEY = 'jobs.since';

function describeError(err: unknown): string {
  if (isPosError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs jobs on their cron slots and keeps every run in `job_runs`.
 *
 * - A job never runs twice at once: a trigger that finds it running is recorded as skipped.
 * - Jobs run independently, so a slow settlement does not hold back the heartbeat.
 * - At start-up a job whose latest slot passed with no successful run for it (the terminal
 *   was off, or the run failed or was cut short) runs once, for that slot only.
 */
export class JobScheduler {
  private readonly jobs = new Map<string, { job: Job; cron: CronExpression }>();
  private readonly running = new Map<string, Promise<JobRun>>();
  private readonly retries = new Map<string, TimerHandle>();
  private triggers: Trigger[] = [];
  private started = false;
  private stopping = false;

  constructor(
    private readonly deps: { store: Store; clock: Clock; logger: Logger; schedule: Schedule; timezone?: string },
    jobs: readonly Job[],
  ) {
    for (const job of jobs) {
      if (this.jobs.has(job.name)) throw new JobError('JOB_DUPLICATE', `job ${job.name} is defined twice`, { job: job.name });
      this.jobs.set(job.name, { job, cron: new CronExpression(job.cron, deps.timezone || undefined) });
    }
  }

  get names(): string[] {
    return [...this.jobs.keys()];
  }

  /**
   * Closes runs a previous process left open, registers the triggers and starts the
   * catch-up runs. Returns without waiting for those runs (see `idle()`).
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    const { store, clock } = this.deps;
    const now = clock.now();
    store.settings.setIfAbsent(SINCE_KEY, String(now));
    const interrupted = store.jobRuns.markInterrupted(now, 'JOB_INTERRUPTED: the process stopped during the run');
    if (interrupted > 0) this.deps.logger.warn({ runs: interrupted }, 'job runs cut short by the last shutdown marked failed');

    for (const [name, { job, cron }] of this.jobs) {
      if (job.manualOnly) continue;
      this.triggers.push(
        this.deps.schedule.every(name, job.cron, this.deps.timezone || undefined, (slotAt) => void this.trigger(name, slotAt, 'scheduled')),
      );
      const owed = this.owedSlot(name, cron, now);
      if (owed !== undefined) {
        this.deps.logger.info({ job: name, slot: new Date(owed).toISOString() }, 'slot missed while down; catching up');
        void this.trigger(name, owed, 'catch-up');
      }
    }
  }

  /** The slot a catch-up run is owed for, if any. */
  private owedSlot(name: string, cron: CronExpression, now: number): number | undefined {
    const slot = cron.previous(now);
    if (slot === undefined) return undefined;
    const since = Number(this.deps.store.settings.get(SINCE_KEY) ?? now);
    if (slot < since) return undefined;
    return this.deps.store.jobRuns.succeededSince(name, slot) ? undefined : slot;
  }

  /** Runs a job now (technician "run now", the console's settle); a job already running makes this a skipped run. */
  runNow(name: string): Promise<JobRun> {
    return this.trigger(name, this.deps.clock.now(), 'manual');
  }

  /**
   * Starts one run unless the job is already running (then the trigger is recorded as
   * skipped). Resolves with the finished run; never rejects for a job's own failure.
   */
  trigger(name: string, slotAt: number, reason: RunReason): Promise<JobRun> {
    const entry = this.jobs.get(name);
    if (!entry) return Promise.reject(new JobError('JOB_UNKNOWN', `no job named ${name}`, { job: name }));
    if (this.stopping)
      return Promise.resolve(this.record(name, slotAt, 'skipped', 'JOB_STOPPING: the terminal is shutting down', { reason }));
    if (this.running.has(name)) {
      this.deps.logger.warn({ job: name, reason }, 'job still running; trigger skipped');
      return Promise.resolve(this.record(name, slotAt, 'skipped', 'JOB_BUSY: the previous run had not finished', { reason }));
    }
    const { store, clock } = this.deps;
    this.cancelRetry(name);
    const startedAt = clock.now();
    const id = store.jobRuns.start(name, slotAt, startedAt, { reason });
    const log = this.deps.logger.child(`job:${name}`);
    log.info({ reason, slot: new Date(slotAt).toISOString() }, 'job started');
    const run = (async () => {
      let outcome: RunOutcome = 'ok';
      let error: string | null = null;
      let detail: Record<string, unknown> = { reason };
      try {
        detail = { reason, ...((await entry.job.run({ slotAt, reason })) ?? {}) };
      } catch (err) {
        outcome = 'failed';
        error = describeError(err);
        if (isPosError(err)) detail = { reason, ...err.details };
        log.error({ err }, 'job failed');
        this.scheduleRetry(entry.job, slotAt, err);
      }
      const finishedAt = clock.now();
      try {
        const done = store.jobRuns.finishRun(id, outcome, finishedAt, error, detail);
        if (outcome === 'ok') log.info({ runId: id }, 'job finished');
        return done;
      } catch (err) {
        // The database closed under a run that outlived the shutdown grace: the row stays
        // 'running' and the next start marks it interrupted.
        log.warn({ err, runId: id }, 'job run could not be recorded');
        return { id, job: name, scheduledFor: slotAt, startedAt, finishedAt, outcome, error, detail };
      }
    })();
    this.running.set(name, run);
    void run.finally(() => this.running.delete(name));
    return run;
  }

  private scheduleRetry(job: Job, slotAt: number, err: unknown): void {
    if (this.stopping || job.retryMs === undefined || (job.shouldRetry && !job.shouldRetry(err))) return;
    const timer = this.deps.clock.setTimeout(() => {
      this.retries.delete(job.name);
      void this.trigger(job.name, slotAt, 'retry');
    }, job.retryMs);
    timer.unref?.();
    this.retries.set(job.name, timer);
  }

  private cancelRetry(name: string): void {
    const timer = this.retries.get(name);
    if (timer) this.deps.clock.clearTimeout(timer);
    this.retries.delete(name);
  }

  private record(name: string, slotAt: number, outcome: RunOutcome, error: string | null, detail: Record<string, unknown>): JobRun {
    return this.deps.store.jobRuns.recordFinished(name, slotAt, this.deps.clock.now(), outcome, error, detail);
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /** Resolves when no job is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** The next slot of each job, for the technician's job screen. */
  nextSlots(): Record<string, number> {
    const now = this.deps.clock.now();
    return Object.fromEntries([...this.jobs].map(([name, { cron }]) => [name, cron.next(now)]));
  }

  history(options: { job?: string; limit?: number } = {}): JobRun[] {
    return this.deps.store.jobRuns.history(options);
  }

  /**
   * Stops the triggers and waits up to `graceMs` for running jobs; a run still going after
   * that stays 'running' in the history and is marked interrupted at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.triggers) t.stop();
    this.triggers = [];
    for (const name of [...this.retries.keys()]) this.cancelRetry(name);
    this.started = false;
    if (this.running.size === 0) return;
    const { clock } = this.deps;
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.idle(),
      new Promise<void>((resolve) => {
        timer = clock.setTimeout(resolve, graceMs);
      }),
    ]);
    if (timer) clock.clearTimeout(timer);
  }
}
