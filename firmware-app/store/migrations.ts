import type Database from 'better-sqlite3';
import { PosError } from '../../drivers/base/errors.js';
import { lifecycleGuardSql } from '../payments/lifecycle/guard-sql.js';

/**
 * Ordered, append-only list of schema steps. `PRAGMA user_version` records how many have
 * run; never edit a released step, add a new one.
 */
export interface Migration {
  /** What the step is for, recorded in logs and the diagnostics bundle. */
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'journal, counters, settings',
    sql: `
  CREATE TABLE transactions (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    type           TEXT    NOT NULL CHECK (type IN ('sale', 'refund', 'void')),
    state          TEXT    NOT NULL,
    amount         INTEGER NOT NULL CHECK (amount > 0),
    currency       TEXT    NOT NULL CHECK (length(currency) = 3),
    stan           TEXT    CHECK (stan IS NULL OR (length(stan) = 6 AND stan NOT GLOB '*[^0-9]*')),
    stan_day       TEXT,
    transmitted_at TEXT,
    masked_pan     TEXT,
    last4          TEXT,
    pan_token      TEXT,
    entry_mode     TEXT,
    auth_code      TEXT,
    rrn            TEXT,
    response_code  TEXT,
    decline_code   TEXT,
    original_id    INTEGER REFERENCES transactions(id),
    batch_number   INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX transactions_stan ON transactions(stan_day, stan) WHERE stan IS NOT NULL;
  CREATE INDEX transactions_state ON transactions(state);
  CREATE INDEX transactions_created ON transactions(created_at);

  CREATE TABLE transaction_events (
    id             INTEGER PRIMARY KEY,
    transaction_id INTEGER NOT NULL REFERENCES transactions(id),
    from_state     TEXT,
    to_state       TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    detail         TEXT
  );
  CREATE INDEX transaction_events_txn ON transaction_events(transaction_id);
  CREATE TRIGGER transaction_events_append_only_update BEFORE UPDATE ON transaction_events
    BEGIN SELECT RAISE(ABORT, 'transaction_events is append-only'); END;
  CREATE TRIGGER transaction_events_append_only_delete BEFORE DELETE ON transaction_events
    BEGIN SELECT RAISE(ABORT, 'transaction_events is append-only'); END;

  CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL,
    day   TEXT
  );
  INSERT INTO counters(name, value) VALUES ('stan', 0), ('batch', 1);

  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  },
  {
    name: 'reversals',
    sql: `
    CREATE TABLE reversals (
      id                      INTEGER PRIMARY KEY,
      transaction_id          INTEGER NOT NULL UNIQUE REFERENCES transactions(id),
      stan                    TEXT    NOT NULL,
      stan_day                TEXT    NOT NULL,
      reason                  TEXT    NOT NULL,
      state                   TEXT    NOT NULL CHECK (state IN ('pending', 'acknowledged')),
      attempts                INTEGER NOT NULL DEFAULT 0,
      next_attempt_at         INTEGER NOT NULL,
      last_error              TEXT,
      alerted                 INTEGER NOT NULL DEFAULT 0,
      created_at              INTEGER NOT NULL,
      updated_at              INTEGER NOT NULL
    );
    CREATE INDEX reversals_due ON reversals(state, next_attempt_at);
    `,
  },
  {
    name: 'store-and-forward queue',
    sql: `
    CREATE TABLE saf_queue (
      id                  INTEGER PRIMARY KEY,
      transaction_id      INTEGER NOT NULL UNIQUE REFERENCES transactions(id),
      encrypted_blob      BLOB    NOT NULL,
      expiry              TEXT,
      state               TEXT    NOT NULL CHECK (state IN ('queued', 'forwarded', 'declined', 'expired')),
      attempts            INTEGER NOT NULL DEFAULT 0,
      sends               INTEGER NOT NULL DEFAULT 0,
      next_attempt_at     INTEGER NOT NULL,
      last_response_code  TEXT,
      queued_at           INTEGER NOT NULL,
      updated_at          INTEGER NOT NULL
    );
    CREATE INDEX saf_queue_due ON saf_queue(state, id);
    `,
  },
  {
    name: 'upstream outbox and alerts',
    sql: `
    CREATE TABLE outbox (
      id               INTEGER PRIMARY KEY,
      event_id         TEXT    NOT NULL UNIQUE,
      type             TEXT    NOT NULL,
      payload          TEXT    NOT NULL,
      created_at       INTEGER NOT NULL,
      attempts         INTEGER NOT NULL DEFAULT 0,
      next_attempt_at  INTEGER NOT NULL,
      delivered_at     INTEGER,
      last_error       TEXT
    );
    CREATE INDEX outbox_due ON outbox(delivered_at, next_attempt_at);
    CREATE TABLE alerts (
      id          INTEGER PRIMARY KEY,
      key         TEXT    NOT NULL,
      severity    TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
      message     TEXT    NOT NULL,
      detail      TEXT,
      raised_at   INTEGER NOT NULL,
      cleared_at  INTEGER
    );
    CREATE INDEX alerts_open ON alerts(key, cleared_at);
    `,
  },
  {
    name: 'print queue',
    sql: `
    CREATE TABLE print_jobs (
      id              INTEGER PRIMARY KEY,
      transaction_id  INTEGER REFERENCES transactions(id),
      kind            TEXT    NOT NULL,
      copy            TEXT,
      payload         BLOB    NOT NULL,
      state           TEXT    NOT NULL CHECK (state IN ('queued', 'printed', 'failed')),
      attempts        INTEGER NOT NULL DEFAULT 0,
      last_error      TEXT,
      created_at      INTEGER NOT NULL,
      updated_at      INTEGER NOT NULL,
      printed_at      INTEGER
    );
    CREATE INDEX print_jobs_state ON print_jobs(state, id);
    `,
  },
  {
    name: 'jobs, batches, audit log',
    sql: `
    CREATE TABLE job_runs (
      id             INTEGER PRIMARY KEY,
      job            TEXT    NOT NULL,
      scheduled_for  INTEGER,
      started_at     INTEGER NOT NULL,
      finished_at    INTEGER,
      outcome        TEXT    NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped')),
      error          TEXT,
      detail         TEXT
    );
    CREATE INDEX job_runs_job ON job_runs(job, started_at);
    CREATE TABLE batches (
      number         INTEGER PRIMARY KEY,
      state          TEXT    NOT NULL CHECK (state IN ('open', 'settling', 'closed', 'out_of_balance')),
      opened_at      INTEGER NOT NULL,
      closed_at      INTEGER,
      totals         TEXT,
      response_code  TEXT
    );
    CREATE TABLE audit_log (
      id       INTEGER PRIMARY KEY,
      at       INTEGER NOT NULL,
      actor    TEXT    NOT NULL,
      action   TEXT    NOT NULL,
      detail   TEXT,
      outcome  TEXT    NOT NULL
    );
    CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `,
  },
  {
    name: 'reversal transmissions',
    // attempts counts tries (the alert threshold); transmissions counts the ones that
    // actually left, so the first transmission is a 0400 and only later ones are 0401.
    sql: `
    ALTER TABLE reversals ADD COLUMN transmissions   INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE reversals ADD COLUMN acknowledged_at INTEGER;
    `,
  },
  {
    name: 'journal events by state and time',
    // The alert monitors and decline statistics count outcomes in a time window after
    // every sale; without this index each count scans the whole history.
    sql: `
    CREATE INDEX transaction_events_state_at ON transaction_events(to_state, at);
    `,
  },
  {
    name: 'lifecycle guard on transactions.state',
    // The reducer's table, enforced by the database too: a bug (or a hand edit) that tries a
    // transition the lifecycle forbids is refused by SQLite, not stored.
    sql: lifecycleGuardSql(),
  },
  {
    name: 'per-sale lookups by transaction, original and STAN',
    // Each sale looks up its slips, a refund or void its original's earlier refunds and
    // voids, a late answer its STAN; without these each lookup scans a history that grows
    // for as long as retention keeps it (30 days of slips, the whole journal).
    sql: `
    CREATE INDEX print_jobs_transaction ON print_jobs(transaction_id) WHERE transaction_id IS NOT NULL;
    CREATE INDEX transactions_original ON transactions(original_id) WHERE original_id IS NOT NULL;
    CREATE INDEX transactions_stan_only ON transactions(stan) WHERE stan IS NOT NULL;
    `,
  },
  {
    name: 'audit log delete guard',
    // Append-only means no DELETE either: someone who reached the database must not be able
    // to erase their tracks. Rows past the 12 months PCI DSS 10.5.1 asks to keep may go (the
    // retention exception); the age is judged by SQLite's own clock, as no caller can be trusted to pass one.
    sql: `
    CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
      WHEN OLD.at > (unixepoch('now') - 366 * 86400) * 1000
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `,
  },
  {
    name: 'transactions.pin_verified: the host approved the sale with the cardholder PIN',
    // The slip says "PIN verified" and drops the signature line from this flag; 0 for every
    // payment before it, none of which carried a PIN.
    sql: `
    ALTER TABLE transactions ADD COLUMN pin_verified INTEGER NOT NULL DEFAULT 0 CHECK (pin_verified IN (0, 1));
      `,
  },
  {
    name: 'operator number and unreferenced refunds on transactions',
    // The operator (操作员号) signed in at the console is journaled on each payment and printed on
    // its slips; a refund without its original sale was let through by a supervisor and its slip says so.
    sql: `
    ALTER TABLE transactions ADD COLUMN operator TEXT;
    ALTER TABLE transactions ADD COLUMN unreferenced INTEGER NOT NULL DEFAULT 0 CHECK (unreferenced IN (0, 1));
      `,
  },
  {
    name: 'chip cryptogram of offline approvals',
    // An advice of a chip sale approved offline carries the card's TC (field 55); it is
    // chip data, not card data, and stays after forwarding like the rest of the row.
    sql: `
    ALTER TABLE saf_queue ADD COLUMN icc_data BLOB;
    `,
  },
  {
    name: 'print jobs keep the slip they print, rendered when it prints',
    // Laying out and encoding two slips was most of an approval's transaction: a slip's job
    // now records what the slip says (receipts/slip.ts) and leaves payload empty; jobs queued
    // before this step keep their bytes and print them as they are.
    sql: `
    ALTER TABLE print_jobs ADD COLUMN slip TEXT;
    `,
  },
  {
    name: 'offline exposure kept by the store-and-forward queue itself',
    // The offline rules weigh the count and total of queued offline approvals inside every
    // offline approval's transaction; counting the queue there grew with its depth. Triggers
    // keep both per currency in the same transaction as every change to the queue (an approval
    // queued, an advice forwarded or declined, an item expired or purged), so they are exact
    // after a restart and while the forwarder runs. The oldest queued item is the first entry
    // of an index in queue time.
    sql: `
    CREATE TABLE saf_exposure (
      currency  TEXT    PRIMARY KEY,
      queued    INTEGER NOT NULL,
      total     INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO saf_exposure (currency, queued, total)
      SELECT t.currency, count(*), sum(t.amount) FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id
       WHERE q.state = 'queued' GROUP BY t.currency;
    CREATE TRIGGER saf_exposure_queued AFTER INSERT ON saf_queue WHEN NEW.state = 'queued'
      BEGIN
        INSERT INTO saf_exposure (currency, queued, total) SELECT currency, 1, amount FROM transactions WHERE id = NEW.transaction_id
          ON CONFLICT (currency) DO UPDATE SET queued = queued + 1, total = total + excluded.total;
      END;
    CREATE TRIGGER saf_exposure_requeued AFTER UPDATE OF state ON saf_queue WHEN OLD.state <> 'queued' AND NEW.state = 'queued'
      BEGIN
        INSERT INTO saf_exposure (currency, queued, total) SELECT currency, 1, amount FROM transactions WHERE id = NEW.transaction_id
          ON CONFLICT (currency) DO UPDATE SET queued = queued + 1, total = total + excluded.total;
      END;
    CREATE TRIGGER saf_exposure_left AFTER UPDATE OF state ON saf_queue WHEN OLD.state = 'queued' AND NEW.state <> 'queued'
      BEGIN
        UPDATE saf_exposure SET queued = queued - 1, total = total - (SELECT amount FROM transactions WHERE id = OLD.transaction_id)
         WHERE currency = (SELECT currency FROM transactions WHERE id = OLD.transaction_id);
      END;
    CREATE TRIGGER saf_exposure_deleted AFTER DELETE ON saf_queue WHEN OLD.state = 'queued'
      BEGIN
        UPDATE saf_exposure SET queued = queued - 1, total = total - (SELECT amount FROM transactions WHERE id = OLD.transaction_id)
         WHERE currency = (SELECT currency FROM transactions WHERE id = OLD.transaction_id);
      END;
    CREATE INDEX saf_queue_age ON saf_queue(state, queued_at);
    `,
  },
  {
    name: 'lifecycle guard looks a transition up in one string',
    // The same transitions refused, at half the cost of every state change (payments/lifecycle/guard-sql.ts).
    sql: `
    DROP TRIGGER transactions_state_insert;
    DROP TRIGGER transactions_state_transition;
    ${lifecycleGuardSql()}`,
  },
  {
    name: 'one STAN index, by STAN then day',
    // A late answer looks a payment up by STAN alone and an answer by STAN and day; an index
    // led by the STAN serves both, and the same pair stays unique. Two indexes meant a page
    // more in the WAL on every STAN a sale takes, all carried by that sale's fsync.
    sql: `
    DROP INDEX transactions_stan_only;
    DROP INDEX transactions_stan;
    CREATE UNIQUE INDEX transactions_stan ON transactions(stan, stan_day) WHERE stan IS NOT NULL;
    `,
  },
];

export class MigrationError extends PosError {}

export function schemaVersion(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

export interface MigrateOptions {
  /**
   * Runs once before the first pending step, and only when the database already holds a
   * schema (version > 0): the place for the pre-migration backup. Throwing stops the upgrade
   * before anything changed.
   */
  beforeMigrating?: (from: number, to: number) => void;
  /** The steps this build knows; tests pass a shorter or longer list to play an older or newer build. */
  migrations?: readonly Migration[];
}

/** Runs the missing steps, each in its own transaction together with the version bump. */
export function migrate(db: Database.Database, options: MigrateOptions = {}): number {
  const steps = options.migrations ?? MIGRATIONS;
  const current = schemaVersion(db);
  if (current > steps.length) {
    throw new MigrationError(
      'STORE_SCHEMA_NEWER',
      `database schema version ${current} is newer than this build understands (${steps.length}); refusing to start - install the newer build or restore a backup`,
      { databaseVersion: current, buildVersion: steps.length },
    );
  }
  if (current > 0 && current < steps.length) options.beforeMigrating?.(current, steps.length);
  for (let version = current; version < steps.length; version++) {
    db.transaction(() => {
      db.exec(steps[version]!.sql);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
  return steps.length;
}
