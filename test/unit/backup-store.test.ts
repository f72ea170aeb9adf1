import { RESTORED_COPY_KEY } from '../../firmware-app/store/high-water.js';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import {
  BackupError,
  backupDatabase,
  backupDatabaseSync,
  listBackups,
  pruneBackups,
  verifyBackup,
} from '../../firmware-app/store/backup.js';
import { defaultBackupDir, openDatabase } from '../../firmware-app/store/db.js';
import { MIGRATIONS, schemaVersion, type Migration } from '../../firmware-app/store/migrations.js';

function fakeClock(start = Date.UTC(2026, 10, 23, 2, 0, 0)): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pos-backup-'));
}

function seed(db: Database.Database, rows: number): void {
  const insert = db.prepare(`INSERT INTO settings (key, value) VALUES (?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`k${i}`, 'x'.repeat(200));
  })();
}

describe('database backups', () => {
  it('copies a live WAL database online, including rows not yet checkpointed, as a private verified file', async () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'pos.db'));
    seed(db, 500);
    expect(statSync(join(dir, 'pos.db-wal')).size).toBeGreaterThan(0);

    const copy = await backupDatabase(db, { dir: join(dir, 'backups'), label: 'nightly', clock: fakeClock() });

    expect(copy.file).toBe(join(dir, 'backups', 'pos-companion-nightly-20261123T020000000Z.db'));
    expect(statSync(copy.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'backups')).mode & 0o777).toBe(0o700);
    expect(copy.bytes).toBe(statSync(copy.file).size);
    const restored = new Database(copy.file, { readonly: true });
    // Plus the flag that makes the start after a restore move its counters past the mark.
    expect(restored.prepare(`SELECT count(*) AS n FROM settings WHERE key != '${RESTORED_COPY_KEY}'`).get()).toEqual({ n: 500 });
    expect(restored.prepare('SELECT value FROM settings WHERE key = ?').get(RESTORED_COPY_KEY)).toEqual({ value: '1' });
    expect(schemaVersion(restored)).toBe(MIGRATIONS.length);
    expect(restored.pragma('journal_mode', { simple: true })).toBe('delete');
    restored.close();
    expect(readdirSync(join(dir, 'backups'))).toEqual([basename(copy.file)]);
    db.close();
  });

  it('takes the blocking start-up copy with the same guarantees', () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'pos.db'));
    seed(db, 10);
    const copy = backupDatabaseSync(db, { dir: join(dir, 'b'), label: 'manual', clock: fakeClock() });
    expect(statSync(copy.file).mode & 0o777).toBe(0o600);
    const restored = new Database(copy.file, { readonly: true });
    // Plus the flag that makes the start after a restore move its counters past the mark.
    expect(restored.prepare(`SELECT count(*) AS n FROM settings WHERE key != '${RESTORED_COPY_KEY}'`).get()).toEqual({ n: 10 });
    expect(restored.prepare('SELECT value FROM settings WHERE key = ?').get(RESTORED_COPY_KEY)).toEqual({ value: '1' });
    restored.close();
    db.close();
  });

  it('never overwrites an earlier copy taken in the same millisecond', async () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'pos.db'));
    const clock = fakeClock();
    const a = await backupDatabase(db, { dir: join(dir, 'b'), label: 'nightly', clock });
    const b = await backupDatabase(db, { dir: join(dir, 'b'), label: 'nightly', clock });
    expect(a.file).not.toBe(b.file);
    expect(listBackups(join(dir, 'b'))).toHaveLength(2);
    db.close();
  });

  it('rejects a damaged copy with BACKUP_CORRUPT', async () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'pos.db'));
    seed(db, 500);
    const copy = await backupDatabase(db, { dir: join(dir, 'b'), label: 'nightly', clock: fakeClock() });
    db.close();
    const bytes = readFileSync(copy.file);
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0xa5, pageSize * 10, pageSize * 12);
    writeFileSync(copy.file, bytes);
    expect(() => verifyBackup(copy.file)).toThrow(expect.objectContaining({ code: 'BACKUP_CORRUPT' }));

    writeFileSync(copy.file, 'not a database at all, just text that is long enough to have a header');
    expect(() => verifyBackup(copy.file)).toThrow(BackupError);
  });

  it('keeps the newest copies of one label when pruning and leaves other labels alone', async () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'pos.db'));
    const clock = fakeClock();
    const target = join(dir, 'b');
    const nightly: string[] = [];
    for (let day = 0; day < 5; day++) {
      nightly.push((await backupDatabase(db, { dir: target, label: 'nightly', clock })).file);
      clock.advance(86_400_000);
    }
    const upgrade = backupDatabaseSync(db, { dir: target, label: 'pre-migration-v3', clock });
    db.close();

    const deleted = pruneBackups(target, 'nightly', 2);

    expect(deleted.map((d) => d.file)).toEqual(nightly.slice(0, 3));
    expect(listBackups(target).map((b) => b.file)).toEqual([...nightly.slice(3), upgrade.file]);
    expect(listBackups(target)[0]!.takenAt).toBe(Date.UTC(2026, 10, 26, 2, 0, 0));
  });

  it('refuses a label that could escape the folder', () => {
    const dir = tempDir();
    const db = openDatabase(join(dir, 'pos.db'));
    expect(() => backupDatabaseSync(db, { dir, label: '../x', clock: fakeClock() })).toThrow(
      expect.objectContaining({ code: 'BACKUP_BAD_LABEL' }),
    );
    db.close();
  });
});

describe('schema upgrades at start-up', () => {
  const olderBuild = MIGRATIONS.slice(0, 2);

  function oldDatabase(): string {
    const file = join(tempDir(), 'pos.db');
    const db = openDatabase(file, { migrations: olderBuild });
    db.prepare(`INSERT INTO settings (key, value) VALUES ('marker', 'kept')`).run();
    db.close();
    return file;
  }

  it('copies the database before running pending steps, and the copy is the old version', () => {
    const file = oldDatabase();
    const db = openDatabase(file, { clock: fakeClock() });
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    db.close();

    const copies = listBackups(defaultBackupDir(file));
    expect(copies.map((c) => c.label)).toEqual(['pre-migration-v2']);
    const copy = new Database(copies[0]!.file, { readonly: true });
    expect(schemaVersion(copy)).toBe(2);
    expect(copy.prepare(`SELECT value FROM settings WHERE key = 'marker'`).get()).toEqual({ value: 'kept' });
    copy.close();
  });

  it('takes no copy for a new database or one already current', () => {
    const file = join(tempDir(), 'pos.db');
    openDatabase(file).close();
    openDatabase(file).close();
    expect(listBackups(defaultBackupDir(file))).toEqual([]);
  });

  it('rolls back a failing step whole, leaving the previous version and the copy', () => {
    const file = oldDatabase();
    const broken: Migration[] = [
      ...olderBuild,
      { name: 'half-good step', sql: `CREATE TABLE extra (id INTEGER PRIMARY KEY); INSERT INTO no_such_table VALUES (1);` },
    ];
    expect(() => openDatabase(file, { migrations: broken })).toThrow(/no such table/);

    const db = new Database(file, { readonly: true });
    expect(schemaVersion(db)).toBe(2);
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE name = 'extra'`).get()).toBeUndefined();
    db.close();
    expect(listBackups(defaultBackupDir(file))).toHaveLength(1);
  });

  it('does not touch the schema when the copy cannot be written', () => {
    const file = oldDatabase();
    const blocked = join(tempDir(), 'a-file');
    writeFileSync(blocked, '');
    expect(() => openDatabase(file, { backupDir: join(blocked, 'backups') })).toThrow(expect.objectContaining({ code: 'BACKUP_FAILED' }));
    const db = new Database(file, { readonly: true });
    expect(schemaVersion(db)).toBe(2);
    db.close();
  });
});
