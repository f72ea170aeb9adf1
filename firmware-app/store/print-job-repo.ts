import type { Db } from './db.js';
import type { QueueRepository, QueueRow } from './durable-queue.js';
import { AddedSignal, perDatabase } from './per-db.js';

export interface PrintJob extends QueueRow {
  transactionId: number | null;
  kind: string;
  copy: string | null;
  /** The bytes printed as they are (a settlement report, a test page); empty for a slip. */
  payload: Buffer;
  /** A slip's record (receipts/slip.ts), rendered when it prints; null for a job printed from `payload`. */
  slip: string | null;
  state: 'queued' | 'printed' | 'failed';
  createdAt: number;
  updatedAt: number;
  printedAt: number | null;
}

/** A job is either bytes to print as they are or a slip to render when it prints. */
export type NewPrintJob = {
  /** What it is: 'receipt', 'settlement', 'test' ... */
  kind: string;
  transactionId?: number;
  copy?: string;
} & ({ payload: Buffer; slip?: never } | { slip: string; payload?: never });

const NO_BYTES = Buffer.alloc(0);

interface Row {
  id: number;
  transaction_id: number | null;
  kind: string;
  copy: string | null;
  payload: Buffer;
  slip: string | null;
  state: PrintJob['state'];
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  printed_at: number | null;
}

const IDS = `(SELECT value FROM json_each(?))`;

const fromRow = (r: Row): PrintJob => ({
  id: r.id,
  transactionId: r.transaction_id,
  kind: r.kind,
  copy: r.copy,
  payload: r.payload,
  slip: r.slip,
  state: r.state,
  // Every try sends the job to the printer: one count serves as both.
  attempts: r.attempts,
  sends: r.attempts,
  // A job is due from the moment it is queued; it waits on the printer, never on a clock.
  nextAttemptAt: r.created_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  printedAt: r.printed_at,
});

/** The print queue (`print_jobs`): jobs print in order, and one the printer stopped holds back those behind it. */
export class PrintJobRepo implements QueueRepository<PrintJob> {
  private readonly added = new AddedSignal();
  private readonly s;

  /** Printed, its mark not committed yet: no longer due, and committed with the next batch of marks. */
  private readonly unmarked = new Set<number>();

  constructor(private readonly db: Db) {
    this.s = {
      insert: db.prepare<[number | null, string, string | null, Buffer, string | null, number, number]>(
        `INSERT INTO print_jobs (transaction_id, kind, copy, payload, slip, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)`,
      ),
      queued: db.prepare<[], Row>(`SELECT * FROM print_jobs WHERE state = 'queued' ORDER BY id`),
      head: db.prepare<[string, number], Row>(`SELECT * FROM print_jobs WHERE state = 'queued' AND id NOT IN ${IDS} ORDER BY id LIMIT ?`),
      count: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM print_jobs WHERE state = 'queued'`),
      get: db.prepare<[number], Row>(`SELECT * FROM print_jobs WHERE id = ?`),
      lastPrinted: db.prepare<[], { id: number }>(
        `SELECT transaction_id AS id FROM print_jobs WHERE state = 'printed' AND transaction_id IS NOT NULL ORDER BY printed_at DESC, id DESC LIMIT 1`,
      ),
      forTransaction: db.prepare<[number], Row>(`SELECT * FROM print_jobs WHERE transaction_id = ? ORDER BY id`),
      addAttempts: db.prepare<[number, number, string]>(`UPDATE print_jobs SET attempts = attempts + ?, updated_at = ? WHERE id IN ${IDS}`),
      failed: db.prepare<[string | null, number, string]>(
        `UPDATE print_jobs SET last_error = coalesce(?, last_error), updated_at = ? WHERE id IN ${IDS}`,
      ),
      printed: db.prepare<[number, number, number]>(
        `UPDATE print_jobs SET state = 'printed', attempts = attempts + 1, last_error = NULL, printed_at = ?, updated_at = ? WHERE id = ?`,
      ),
      purge: db.prepare<[number]>(`DELETE FROM print_jobs WHERE state = 'printed' AND updated_at < ?`),
    };
  }

  /** Safe inside the transaction that commits what the job prints; the queue wakes once it commits. */
  enqueue(job: NewPrintJob, now: number): PrintJob {
    const row: Row = {
      id: 0,
      transaction_id: job.transactionId ?? null,
      kind: job.kind,
      copy: job.copy ?? null,
      payload: job.payload ?? NO_BYTES,
      slip: job.slip ?? null,
      state: 'queued',
      attempts: 0,
      last_error: null,
      created_at: now,
      updated_at: now,
      printed_at: null,
    };
    // The new row is what was bound: reading it back (RETURNING) copied the slip out again
    // inside every approval's transaction.
    row.id = Number(this.s.insert.run(row.transaction_id, row.kind, row.copy, row.payload, row.slip, now, now).lastInsertRowid);
    this.added.fire();
    return fromRow(row);
  }

  queued(): PrintJob[] {
    return this.s.queued
      .all()
      .filter((r) => !this.unmarked.has(r.id))
      .map(fromRow);
  }

  get(id: number): PrintJob | undefined {
    const row = this.s.get.get(id);
    return row ? fromRow(row) : undefined;
  }

  /** The payment whose slip came out of the printer last. */
  lastPrintedTransactionId(): number | undefined {
    return this.s.lastPrinted.get()?.id;
  }

  forTransaction(transactionId: number): PrintJob[] {
    return this.s.forTransaction.all(transactionId).map(fromRow);
  }

  /** In order, from the oldest queued job: a job waits for the printer, so there is no schedule to skip ahead by. */
  due(_now: number, limit: number, skip: readonly number[]): PrintJob[] {
    if (limit <= 0) return [];
    return this.s.head.all(JSON.stringify([...skip, ...this.unmarked]), limit).map(fromRow);
  }

  /** Never: the printer's return (its status poll) wakes the queue, not a clock. */
  nextAttemptAt(): null {
    return null;
  }

  waiting(): number {
    return this.s.count.get()!.n - this.unmarked.size;
  }

  /** The job came out of the printer; its mark commits with the next batch (`commitMarks`). */
  markPrinted(id: number): void {
    this.unmarked.add(id);
  }

  isUnmarked(id: number): boolean {
    return this.unmarked.has(id);
  }

  get unmarkedCount(): number {
    return this.unmarked.size;
  }

  /**
   * One commit for every printed job not marked yet. Marks that cannot commit leave their jobs
   * queued: after a crash they print again, never vanish.
   */
  commitMarks(at: number): number[] {
    const ids = [...this.unmarked];
    if (ids.length === 0) return ids;
    try {
      this.db
        .transaction(() => {
          for (const id of ids) this.s.printed.run(at, at, id);
        })
        .immediate();
    } finally {
      this.unmarked.clear();
    }
    return ids;
  }

  /**
   * A slip has no repeat to tell apart (unlike an advice or a reversal): its try is recorded with
   * its outcome, in the printed mark or the failure, which saves a commit per slip.
   */
  countSends(): void {}

  uncountSends(): void {}

  /** The printer refused or did not answer: the try and its error in one commit. */
  reschedule(ids: readonly number[], change: { at: number; error?: string }): void {
    this.db
      .transaction(() => {
        this.s.addAttempts.run(1, change.at, JSON.stringify(ids));
        this.s.failed.run(change.error ?? null, change.at, JSON.stringify(ids));
      })
      .immediate();
  }

  onAdded(listener: () => void): () => void {
    return this.added.on(listener);
  }

  /** Retention: jobs printed before `cutoff`; a queued job is never touched. */
  purgeFinished(cutoff: number): number {
    return this.s.purge.run(cutoff).changes;
  }
}

export const printJobRepo = perDatabase((db) => new PrintJobRepo(db));
