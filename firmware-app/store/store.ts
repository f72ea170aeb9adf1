import { AlertRepo } from './alert-repo.js';
import { AuditRepo } from './audit-repo.js';
import { backupDatabase, type BackupInfo, type BackupTarget } from './backup.js';
import { BatchRepo } from './batch-repo.js';
import { currentBatch, nextBatch, nextStan } from './counters.js';
import type { Db } from './db.js';
import { JobRunRepo, SettingsRepo } from './job-repo.js';
import { lockoutStore } from './lockout.js';
import { schemaVersion } from './migrations.js';
import { outboxRepo, type OutboxRepo } from './outbox-repo.js';
import { printJobRepo, type PrintJobRepo } from './print-job-repo.js';
import { reversalRepo, type ReversalRepo } from './reversal-repo.js';
import { safRepo, type SafRepo } from './saf-repo.js';
import { assertStorageHeadroom } from './storage.js';
import { TransactionRepo } from './transaction-repo.js';

/** How many rows wait in a queue and since when (epoch ms), for the technician and the heartbeat. */
export interface QueueDepth {
  count: number;
  oldestAt: number | null;
}

/**
 * The store layer: one repository per aggregate over the one database handle, which no
 * module outside `store/` sees. `tx(fn)` is the only way to group writes: an immediate
 * transaction (the write lock taken at BEGIN, so two writers never deadlock half-way), or,
 * inside one already, a savepoint: a nested failure undoes only its own writes.
 */
export class Store {
  readonly transactions: TransactionRepo;
  readonly batches: BatchRepo;
  readonly alerts: AlertRepo;
  readonly audit: AuditRepo;
  readonly jobRuns: JobRunRepo;
  readonly settings: SettingsRepo;
  /** The four durable queues' rows: one instance per handle, so the queue that waits is the one told of a new row. */
  readonly saf: SafRepo;
  readonly reversals: ReversalRepo;
  readonly outbox: OutboxRepo;
  readonly printJobs: PrintJobRepo;
  private readonly depthStatements;
  /**
   * Made once: better-sqlite3 builds four wrapper functions for every `db.transaction` call, and
   * a payment's steps open several nested ones.
   */
  private readonly transaction;

  constructor(
    private readonly db: Db,
    /** The database file, for the free-space check. */
    private readonly file: string = db.name,
  ) {
    this.transaction = db.transaction((fn: () => unknown) => fn());
    this.transactions = new TransactionRepo(db);
    this.batches = new BatchRepo(db);
    this.alerts = new AlertRepo(db);
    this.audit = new AuditRepo(db);
    this.jobRuns = new JobRunRepo(db);
    this.settings = new SettingsRepo(db);
    this.saf = safRepo(db);
    this.reversals = reversalRepo(db);
    this.outbox = outboxRepo(db);
    this.printJobs = printJobRepo(db);
    const depth = (sql: string) => db.prepare<[], { n: number; oldest: number | null }>(sql);
    this.depthStatements = {
      saf: depth(`SELECT count(*) AS n, min(queued_at) AS oldest FROM saf_queue WHERE state = 'queued'`),
      reversals: depth(`SELECT count(*) AS n, min(created_at) AS oldest FROM reversals WHERE state = 'pending'`),
      outbox: depth(`SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE delivered_at IS NULL`),
      print: depth(`SELECT count(*) AS n, min(created_at) AS oldest FROM print_jobs WHERE state = 'queued'`),
    };
  }

  tx<T>(fn: () => T): T {
    return this.transaction.immediate(fn) as T;
  }

  /**
   * An immediate transaction whose commit is not flushed on its own: synchronous=NORMAL for that
   * one commit, so the WAL stays consistent and its frames reach the disk with the next durable
   * commit (or checkpoint). Only for a write whose loss in a power cut harms nobody, such as a
   * payment rung up but not sent yet. Inside another transaction it is simply part of that one.
   */
  txUnflushed<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.tx(fn);
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.tx(fn);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /** The next STAN, persisted past its high-water mark; call inside the `tx` that records the message. */
  nextStan(): string {
    return nextStan(this.db);
  }

  /** Moves to the next batch number (a cut-over). */
  nextBatch(): number {
    return nextBatch(this.db);
  }

  currentBatch(): number {
    return currentBatch(this.db);
  }

  schemaVersion(): number {
    return schemaVersion(this.db);
  }

  /** Refuses (STORE_FULL) when the disk has no room for a payment's commits. */
  assertHeadroom(): void {
    assertStorageHeadroom(this.db, this.file);
  }

  /** A PIN's lockout state (the technician's unless another key is named), kept in `settings`. */
  lockout(key?: string): ReturnType<typeof lockoutStore> {
    return lockoutStore(this.db, key);
  }

  backup(target: BackupTarget): Promise<BackupInfo> {
    return backupDatabase(this.db, target);
  }

  /** The four durable queues' depths, read in one snapshot. */
  queueDepths(): Record<'saf' | 'reversals' | 'outbox' | 'print', QueueDepth> {
    const snapshot = () => {
      const read = (s: (typeof this.depthStatements)['saf']): QueueDepth => {
        const r = s.get()!;
        return { count: r.n, oldestAt: r.oldest };
      };
      const d = this.depthStatements;
      return { saf: read(d.saf), reversals: read(d.reversals), outbox: read(d.outbox), print: read(d.print) };
    };
    // A read: a deferred transaction, so the snapshot never waits for the write lock.
    return this.db.inTransaction ? snapshot() : this.db.transaction(snapshot)();
  }

  /** Empties the WAL after a large delete, so the space the purge freed is not held by the log. */
  truncateWal(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  get open(): boolean {
    return this.db.open;
  }

  close(): void {
    this.db.close();
  }
}
