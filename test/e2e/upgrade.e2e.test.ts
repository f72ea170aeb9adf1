import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { listBackups } from '../../firmware-app/store/backup.js';
import { defaultBackupDir, openDatabase } from '../../firmware-app/store/db.js';
import { MIGRATIONS, schemaVersion } from '../../firmware-app/store/migrations.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/** The schema of the build before this one learnt print queues: journal, reversals, SAF and outbox. */
const OLD_VERSION = 4;

interface Work {
  safTxns: number[];
  reversalTxns: number[];
  eventIds: string[];
}

/** Work a terminal had queued when it was switched off for the upgrade. */
function queueWork(db: Database.Database): Work {
  const now = Date.now();
  const day = new Date(now).toISOString().slice(5, 10).replace('-', '');
  const txn = db.prepare(
    `INSERT INTO transactions (uuid, type, state, amount, currency, stan, stan_day, transmitted_at, masked_pan, last4, pan_token, entry_mode, auth_code, batch_number, created_at, updated_at)
     VALUES (?, 'sale', ?, ?, 'CNY', ?, ?, NULL, '411111******1111', '1111', ?, 'CHIP', ?, 1, ?, ?) RETURNING id`,
  );
  const work: Work = { safTxns: [], reversalTxns: [], eventIds: [] };
  db.transaction(() => {
    db.prepare(`UPDATE counters SET value = 100, day = ? WHERE name = 'stan'`).run(day);
    for (let i = 1; i <= 3; i++) {
      const { id } = txn.get(
        `upgrade-saf-${i}`,
        'offline_approved',
        1000 * i,
        String(i).padStart(6, '0'),
        day,
        'ab'.repeat(16),
        `Y${i}0000`,
        now,
        now,
      ) as { id: number };
      db.prepare(
        `INSERT INTO saf_queue (transaction_id, encrypted_blob, expiry, state, next_attempt_at, queued_at, updated_at) VALUES (?, ?, '2812', 'queued', ?, ?, ?)`,
      ).run(id, Buffer.from(`opaque-${i}`), now, now, now);
      work.safTxns.push(id);
    }
    for (let i = 4; i <= 5; i++) {
      const { id } = txn.get(
        `upgrade-rev-${i}`,
        'reversal_pending',
        500 * i,
        String(i).padStart(6, '0'),
        day,
        'cd'.repeat(16),
        null,
        now,
        now,
      ) as { id: number };
      db.prepare(
        `INSERT INTO reversals (transaction_id, stan, stan_day, reason, state, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'timeout', 'pending', 2, ?, ?, ?)`,
      ).run(id, String(i).padStart(6, '0'), day, now, now, now);
      work.reversalTxns.push(id);
    }
    for (let i = 1; i <= 4; i++) {
      const eventId = `upgrade-event-${i}`;
      db.prepare(`INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at) VALUES (?, 'decline', ?, ?, ?)`).run(
        eventId,
        JSON.stringify({ n: i }),
        now,
        now,
      );
      work.eventIds.push(eventId);
    }
  })();
  return work;
}

/** What of that work is still waiting, read from a database file. */
function waiting(file: string): { saf: number[]; reversals: number[]; events: string[]; txnStates: Record<number, string> } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      saf: (db.prepare(`SELECT transaction_id AS id FROM saf_queue WHERE state = 'queued' ORDER BY id`).all() as { id: number }[]).map(
        (r) => r.id,
      ),
      reversals: (
        db.prepare(`SELECT transaction_id AS id FROM reversals WHERE state = 'pending' ORDER BY id`).all() as { id: number }[]
      ).map((r) => r.id),
      events: (
        db.prepare(`SELECT event_id FROM outbox WHERE delivered_at IS NULL AND event_id LIKE 'upgrade-%' ORDER BY id`).all() as {
          event_id: string;
        }[]
      ).map((r) => r.event_id),
      txnStates: Object.fromEntries(
        (db.prepare(`SELECT id, state FROM transactions WHERE uuid LIKE 'upgrade-%'`).all() as { id: number; state: string }[]).map((r) => [
          r.id,
          r.state,
        ]),
      ),
    };
  } finally {
    db.close();
  }
}

/** A port nothing listens on: the host stays unreachable, so queued work stays queued for inspection. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

async function waitForFile(path: string, terminal: TerminalProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (terminal.child.exitCode !== null) throw new Error(`terminal exited (${terminal.child.exitCode}); stderr:\n${terminal.stderr}`);
    if (Date.now() > deadline) throw new Error(`not ready in time; stderr:\n${terminal.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('upgrading a terminal that has queued work', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await Simulator.start();
  });

  afterAll(async () => {
    await sim.stop();
  });

  it('backs the old database up, migrates it, and loses no SAF item, reversal or upstream event', async () => {
    const port = await closedPort();
    const { configPath, dataDir } = writeSimConfig(sim, {
      host: { port, connectTimeoutMs: 1000 },
      log: { level: 'info', target: 'stderr' },
    });
    const dbFile = join(dataDir, 'pos-companion.db');
    const old = openDatabase(dbFile, { migrations: MIGRATIONS.slice(0, OLD_VERSION) });
    const work = queueWork(old);
    old.close();
    const before = waiting(dbFile);
    expect(before.saf).toEqual(work.safTxns);
    expect(before.reversals).toEqual(work.reversalTxns);

    const ready = join(dataDir, 'ready');
    const terminal = new TerminalProcess(['--config', configPath, '--ready-file', ready]);
    try {
      await waitForFile(ready, terminal, 60_000);
    } finally {
      if (terminal.child.exitCode === null) expect(await terminal.kill('SIGTERM')).toBe(0);
    }

    const migrated = new Database(dbFile, { readonly: true });
    expect(schemaVersion(migrated)).toBe(MIGRATIONS.length);
    migrated.close();
    const after = waiting(dbFile);
    expect(after.saf).toEqual(work.safTxns);
    expect(after.reversals).toEqual(work.reversalTxns);
    expect(after.events).toEqual(work.eventIds);
    expect(after.txnStates).toEqual(before.txnStates);

    const copies = listBackups(defaultBackupDir(dbFile));
    expect(copies.map((c) => c.label)).toEqual([`pre-migration-v${OLD_VERSION}`]);
    const copy = new Database(copies[0]!.file, { readonly: true });
    expect(schemaVersion(copy)).toBe(OLD_VERSION);
    copy.close();
    expect(waiting(copies[0]!.file)).toEqual(before);
    expect(terminal.stderr).toMatch(/"msg":"database backed up before schema upgrade"/);
    expect(terminal.stderr).toMatch(new RegExp(`"from":${OLD_VERSION},"to":${MIGRATIONS.length},"msg":"database schema upgraded"`));
  }, 120_000);

  it('refuses to start on a database written by a newer build, and leaves it untouched', async () => {
    const { configPath, dataDir } = writeSimConfig(sim, { log: { target: 'stderr' } });
    const dbFile = join(dataDir, 'pos-companion.db');
    const newerBuild = [
      ...MIGRATIONS,
      { name: 'a later release', sql: 'CREATE TABLE loyalty_points (id INTEGER PRIMARY KEY, points INTEGER NOT NULL);' },
    ];
    const newer = openDatabase(dbFile, { migrations: newerBuild });
    const work = queueWork(newer);
    newer.close();

    const terminal = new TerminalProcess(['--config', configPath]);
    expect(await terminal.exit()).toBe(1);
    expect(terminal.stderr).toContain(
      `STORE_SCHEMA_NEWER: database schema version ${newerBuild.length} is newer than this build understands (${MIGRATIONS.length}); refusing to start`,
    );

    const db = new Database(dbFile, { readonly: true });
    expect(schemaVersion(db)).toBe(newerBuild.length);
    db.close();
    expect(waiting(dbFile)).toMatchObject({ saf: work.safTxns, reversals: work.reversalTxns, events: work.eventIds });
    expect(listBackups(defaultBackupDir(dbFile))).toEqual([]);
  }, 60_000);
});
