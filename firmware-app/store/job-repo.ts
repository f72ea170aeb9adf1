import type { Db } from './db.js';

export type RunOutcome = 'running' | 'ok' | 'failed' | 'skipped';

export interface JobRun {
  id: number;
  job: string;
  scheduledFor: number | null;
  startedAt: number;
  finishedAt: number | null;
  outcome: RunOutcome;
  error: string | null;
  detail: Record<string, unknown> | null;
}

interface Row {
  id: number;
  job: string;
  scheduled_for: number | null;
  started_at: number;
  finished_at: number | null;
  outcome: RunOutcome;
  error: string | null;
  detail: string | null;
}

const fromRow = (r: Row): JobRun => ({
  id: r.id,
  job: r.job,
  scheduledFor: r.scheduled_for,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  outcome: r.outcome,
  error: r.error,
  detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
});

/** The `job_runs` table: every run of every job, the catch-up's memory. */
export class JobRunRepo {
  private readonly interrupt;
  private readonly okSince;
  private readonly begin;
  private readonly finish;
  private readonly insertDone;
  private readonly newestOf;
  private readonly newest;
  private readonly purge;

  constructor(db: Db) {
    this.interrupt = db.prepare<[number, string]>(
      `UPDATE job_runs SET outcome = 'failed', finished_at = ?, error = ? WHERE outcome = 'running'`,
    );
    this.okSince = db.prepare<[string, number], { n: number }>(
      `SELECT count(*) AS n FROM job_runs WHERE job = ? AND outcome = 'ok' AND scheduled_for >= ?`,
    );
    this.begin = db.prepare(`INSERT INTO job_runs (job, scheduled_for, started_at, outcome, detail) VALUES (?, ?, ?, 'running', ?)`);
    this.finish = db.prepare<unknown[], Row>(
      `UPDATE job_runs SET outcome = ?, finished_at = ?, error = ?, detail = ? WHERE id = ? RETURNING *`,
    );
    this.insertDone = db.prepare<unknown[], Row>(
      `INSERT INTO job_runs (job, scheduled_for, started_at, finished_at, outcome, error, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    );
    this.newestOf = db.prepare<[string, number], Row>(`SELECT * FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?`);
    this.newest = db.prepare<[number], Row>(`SELECT * FROM job_runs ORDER BY id DESC LIMIT ?`);
    this.purge = db.prepare<[number]>(
      `DELETE FROM job_runs WHERE outcome <> 'running' AND started_at < ? AND id NOT IN (SELECT max(id) FROM job_runs GROUP BY job)`,
    );
  }

  /** Runs a previous process left 'running' become failed with `error`; returns how many. */
  markInterrupted(at: number, error: string): number {
    return this.interrupt.run(at, error).changes;
  }

  /** Whether the job has a successful run for `slot` or a later one. */
  succeededSince(job: string, slot: number): boolean {
    return this.okSince.get(job, slot)!.n > 0;
  }

  /** Records a run as started; returns its id. */
  start(job: string, slotAt: number, startedAt: number, detail: Record<string, unknown>): number {
    return Number(this.begin.run(job, slotAt, startedAt, JSON.stringify(detail)).lastInsertRowid);
  }

  finishRun(id: number, outcome: RunOutcome, finishedAt: number, error: string | null, detail: Record<string, unknown>): JobRun {
    return fromRow(this.finish.get(outcome, finishedAt, error, JSON.stringify(detail), id)!);
  }

  /** A run that never ran (skipped): started and finished at `at`. */
  recordFinished(
    job: string,
    slotAt: number,
    at: number,
    outcome: RunOutcome,
    error: string | null,
    detail: Record<string, unknown>,
  ): JobRun {
    return fromRow(this.insertDone.get(job, slotAt, at, at, outcome, error, JSON.stringify(detail))!);
  }

  history(options: { job?: string; limit?: number } = {}): JobRun[] {
    const limit = options.limit ?? 50;
    return (options.job ? this.newestOf.all(options.job, limit) : this.newest.all(limit)).map(fromRow);
  }

  /** Retention: finished runs started before `cutoff` go, except each job's latest (catch-up reads it). */
  purgeFinished(cutoff: number): number {
    return this.purge.run(cutoff).changes;
  }
}

/** The `settings` table: small named values the terminal keeps across restarts. */
export class SettingsRepo {
  private readonly read;
  private readonly write;
  private readonly writeOnce;

  constructor(db: Db) {
    this.read = db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`);
    this.write = db.prepare<[string, string]>(
      `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
    this.writeOnce = db.prepare<[string, string]>(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`);
  }

  get(key: string): string | undefined {
    return this.read.get(key)?.value;
  }

  set(key: string, value: string): void {
    this.write.run(key, value);
  }

  /** Sets the value unless the key already has one. */
  setIfAbsent(key: string, value: string): void {
    this.writeOnce.run(key, value);
  }
}
