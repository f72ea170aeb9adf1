import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock, type TimerHandle } from '../../drivers/base/clock.js';
import { PosError } from '../../drivers/base/errors.js';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { backupDatabaseSync } from './backup.js';
import { migrate, type Migration } from './migrations.js';
import { reuseStatements } from './statements.js';

export type Db = Database.Database;

export class StoreError extends PosError {}

export interface OpenOptions {
  /** Open without migrating or writing (tools and tests that only look). */
  readonly?: boolean;
  logger?: Logger;
  clock?: Clock;
  /** Where the pre-migration copy goes; defaults to `backups/` beside the database. */
  backupDir?: string;
  /** The schema steps this build knows (tests play older and newer builds with it). */
  migrations?: readonly Migration[];
}

/** The folder backups go to unless configured otherwise: beside the database, on the same disk. */
export function defaultBackupDir(databaseFile: string): string {
  return join(dirname(databaseFile), 'backups');
}

/**
 * Opens the terminal's database with the durability the write-ahead rule needs:
 * WAL and synchronous=FULL (better-sqlite3 would otherwise leave WAL at NORMAL, which can
 * lose a committed row on power loss). The file is created 0600 before SQLite touches it,
 * so there is no moment it exists with wider permissions.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (!options.readonly) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'a', 0o600);
    closeSync(fd);
    chmodSync(file, 0o600);
  }
  const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  reuseStatements(db);
  try {
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StoreError('STORE_WAL_UNAVAILABLE', `database could not switch to WAL (got ${String(mode)})`);
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('journal_size_limit = 67108864');
      const log = options.logger ?? silentLogger;
      let upgradedFrom: number | undefined;
      const version = migrate(db, {
        migrations: options.migrations,
        beforeMigrating: (from, to) => {
          const copy = backupDatabaseSync(db, {
            dir: options.backupDir ?? defaultBackupDir(file),
            label: `pre-migration-v${from}`,
            clock: options.clock ?? systemClock,
          });
          log.info({ from, to, backup: copy.file, bytes: copy.bytes }, 'database backed up before schema upgrade');
          upgradedFrom = from;
        },
      });
      if (upgradedFrom !== undefined) log.info({ from: upgradedFrom, to: version }, 'database schema upgraded');
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function durabilitySettings(db: Db): { journalMode: string; synchronous: number } {
  return {
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    synchronous: Number(db.pragma('synchronous', { simple: true })),
  };
}

/** When the terminal copies the WAL into the database file (a checkpoint: two fsyncs and the copy). */
export interface WalCheckpointOptions {
  /** How often the WAL's size is looked at (a `stat`, no I/O on the database). */
  pollMs: number;
  /** A WAL that has not changed for this long is checkpointed: nothing is being written. */
  idleMs: number;
  /** A WAL at least this large is checkpointed at the first look with no payment in progress. */
  maxWalBytes: number;
}

export const WAL_CHECKPOINT_DEFAULTS: WalCheckpointOptions = { pollMs: 1_000, idleMs: 5_000, maxWalBytes: 4 * 1024 * 1024 };

/**
 * SQLite's own checkpoint runs inside whichever commit pushes the WAL past its threshold,
 * so the commit a 0200 or an APPROVED waits for would carry it. Raised far above
 * `maxWalBytes`, it is only a backstop for a WAL the terminal never found a moment for.
 */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;

export interface WalCheckpoint {
  reason: 'size' | 'idle';
  walBytes: number;
  /** False when another connection's read kept part of the WAL; the next look tries again. */
  complete: boolean;
}

/**
 * Checkpoints the WAL by size or when idle, never while a payment is in progress: a
 * checkpoint is synchronous, so one that ran between a payment's commits would delay its
 * 0200, its answer or its slip. TRUNCATE leaves the WAL file empty, so its size is what
 * the next checkpoint has to copy.
 */
export class WalCheckpointer {
  private readonly options: WalCheckpointOptions;
  private readonly walFile: string;
  private timer: TimerHandle | undefined;
  private lastSize = 0;
  private unchangedSince = 0;
  private retryAt = 0;

  constructor(
    private readonly db: Db,
    databaseFile: string,
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      paymentInProgress: () => boolean;
      onCheckpoint?: (checkpoint: WalCheckpoint) => void;
    },
    options: Partial<WalCheckpointOptions> = {},
  ) {
    this.options = { ...WAL_CHECKPOINT_DEFAULTS, ...options };
    this.walFile = `${databaseFile}-wal`;
  }

  start(): void {
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
    this.unchangedSince = this.deps.clock.now();
    this.schedule();
  }

  stop(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.look();
      if (this.timer) this.schedule();
    }, this.options.pollMs);
    this.timer.unref?.();
  }

  private look(): void {
    const now = this.deps.clock.now();
    const size = statSync(this.walFile, { throwIfNoEntry: false })?.size ?? 0;
    if (size !== this.lastSize) {
      this.lastSize = size;
      this.unchangedSince = now;
    }
    if (size === 0 || now < this.retryAt || !this.db.open || this.deps.paymentInProgress()) return;
    const reason = size >= this.options.maxWalBytes ? 'size' : now - this.unchangedSince >= this.options.idleMs ? 'idle' : undefined;
    if (!reason) return;
    try {
      const complete = truncateWal(this.db);
      this.lastSize = statSync(this.walFile, { throwIfNoEntry: false })?.size ?? 0;
      this.deps.onCheckpoint?.({ reason, walBytes: size, complete });
    } catch (err) {
      // A full or read-only disk fails every look: once per idle time is enough to retry and to log.
      this.retryAt = now + this.options.idleMs;
      this.deps.logger.warn({ err, walBytes: size, retryInMs: this.options.idleMs }, 'WAL checkpoint failed; will retry');
    }
  }
}

/**
 * Copies the WAL into the database file and empties it, without waiting: a reader in
 * another process (a backup, a reconcile) makes it stop short instead of blocking the
 * terminal for the busy timeout. Returns whether the whole WAL was copied.
 */
function truncateWal(db: Db): boolean {
  const timeout = Number(db.pragma('busy_timeout', { simple: true }));
  db.pragma('busy_timeout = 0');
  try {
    const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
    return row !== undefined && row.busy === 0 && row.log === row.checkpointed;
  } finally {
    db.pragma(`busy_timeout = ${timeout}`);
  }
}
