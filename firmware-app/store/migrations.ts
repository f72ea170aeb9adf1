import type Database from 'better-sqlite3';
import { PosError } from '../../drivers/base/errors.js';

/**
 * Ordered, append-only list of schema steps. `PRAGMA user_version` records how many have
 * run; never edit a released step, add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
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
];

export class MigrationError extends PosError {}

export function schemaVersion(db: Database.Database): number {
  return Number(db.pragma('user_version', { simple: true }));
}

/** Runs the missing steps, each in its own transaction together with the version bump. */
export function migrate(db: Database.Database): number {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new MigrationError(
      'STORE_SCHEMA_NEWER',
      `database schema version ${current} is newer than this build understands (${MIGRATIONS.length}); refusing to start - install the newer build or restore a backup`,
      { databaseVersion: current, buildVersion: MIGRATIONS.length },
    );
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
  return MIGRATIONS.length;
}
