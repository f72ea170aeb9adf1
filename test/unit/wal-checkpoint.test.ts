import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../drivers/base/logger.js';
import { durabilitySettings, openDatabase, WalCheckpointer, type Db, type WalCheckpoint } from '../../firmware-app/store/db.js';
import { ManualClock } from '../support/manual-clock.js';

function rig() {
  const file = join(mkdtempSync(join(tmpdir(), 'pos-wal-')), 'pos.db');
  const db = openDatabase(file);
  db.exec(`CREATE TABLE filler (data BLOB NOT NULL)`);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const clock = new ManualClock();
  const state = { paying: false };
  const checkpoints: WalCheckpoint[] = [];
  const checkpointer = new WalCheckpointer(
    db,
    file,
    { clock, logger: silentLogger, paymentInProgress: () => state.paying, onCheckpoint: (c) => checkpoints.push(c) },
    { pollMs: 100, idleMs: 1_000, maxWalBytes: 256 * 1024 },
  );
  const insert = db.prepare(`INSERT INTO filler (data) VALUES (?)`);
  const write = (bytes: number) => {
    for (let i = 0; i < bytes / 4096; i++) insert.run(Buffer.alloc(4000, i));
  };
  const walBytes = () => statSync(`${file}-wal`).size;
  return { db, clock, state, checkpoints, checkpointer, write, walBytes };
}

describe('WAL checkpoints', () => {
  it('never checkpoint while a payment is in progress, however large the WAL grows; the first look after it copies the WAL and empties it', () => {
    const { db, clock, state, checkpoints, checkpointer, write, walBytes } = rig();
    checkpointer.start();
    state.paying = true;
    write(1024 * 1024);
    clock.advance(10_000);
    expect(checkpoints).toEqual([]);
    expect(walBytes()).toBeGreaterThan(1024 * 1024);

    state.paying = false;
    clock.advance(100);
    expect(checkpoints).toEqual([expect.objectContaining({ reason: 'size', complete: true })]);
    expect(walBytes()).toBe(0);
    expect(db.prepare(`SELECT count(*) AS n FROM filler`).get()).toEqual({ n: 256 });
    expect(durabilitySettings(db)).toEqual({ journalMode: 'wal', synchronous: 2 });
    checkpointer.stop();
    db.close();
  });

  it('checkpoint a small WAL once nothing has been written for the idle time, and only once', () => {
    const { db, clock, checkpoints, checkpointer, write, walBytes } = rig();
    checkpointer.start();
    write(16 * 1024);
    clock.advance(900);
    write(16 * 1024);
    clock.advance(900);
    // Still writing within the idle time: the WAL stays.
    expect(checkpoints).toEqual([]);
    clock.advance(300);
    expect(checkpoints).toEqual([expect.objectContaining({ reason: 'idle', complete: true })]);
    expect(walBytes()).toBe(0);
    clock.advance(60_000);
    expect(checkpoints).toHaveLength(1);
    checkpointer.stop();
    db.close();
  });

  it('hold an idle checkpoint while a payment waits for its card or its answer', () => {
    const { db, clock, state, checkpoints, checkpointer, write, walBytes } = rig();
    checkpointer.start();
    write(16 * 1024);
    state.paying = true;
    clock.advance(30_000);
    expect(checkpoints).toEqual([]);
    expect(walBytes()).toBeGreaterThan(0);
    state.paying = false;
    clock.advance(100);
    expect(checkpoints).toEqual([expect.objectContaining({ reason: 'idle' })]);
    checkpointer.stop();
    db.close();
  });

  it('when the disk refuses the checkpoint, retry and warn once per idle time, not at every look', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-wal-')), 'pos.db');
    writeFileSync(`${file}-wal`, Buffer.alloc(8192));
    // A store whose disk has filled up: every checkpoint fails.
    const full = {
      open: true,
      pragma: (sql: string) => {
        if (sql.startsWith('wal_checkpoint')) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        return 5000;
      },
    } as unknown as Db;
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_obj, msg) => warnings.push(msg ?? '') };
    const clock = new ManualClock();
    const checkpointer = new WalCheckpointer(
      full,
      file,
      { clock, logger, paymentInProgress: () => false },
      { pollMs: 100, idleMs: 1_000, maxWalBytes: 256 * 1024 },
    );
    checkpointer.start();
    clock.advance(10_000);
    checkpointer.stop();
    expect(warnings.length).toBeGreaterThanOrEqual(8);
    expect(warnings.length).toBeLessThanOrEqual(10);
    expect(warnings[0]).toMatch(/WAL checkpoint failed/);
  });
});
