import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';
import { attachHighWater, flagBackupCopy, highWaterFile, STAN_BLOCK } from '../../firmware-app/store/high-water.js';
import { nextStan } from '../../firmware-app/store/counters.js';

/** WAL frames the database holds: a commit that wrote nothing adds none (and costs no fsync). */
function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

function start(file: string): { db: Db; restored: boolean; stan: number } {
  const db = openDatabase(file);
  const r = attachHighWater(db, highWaterFile(file));
  return { db, restored: r.restored, stan: r.stan };
}

describe("the counters' high-water mark at start-up", () => {
  it('is not rewritten by a start that finds it covering the counters, and nothing is committed once they match', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-high-water-')), 'pos.db');
    const first = start(file);
    const used = Number(nextStan(first.db));
    first.db.close();
    const mark = highWaterFile(file);
    const before = { text: readFileSync(mark, 'utf8'), mtime: statSync(mark).mtimeMs, ino: statSync(mark).ino };

    // The counters jump to the mark (a commit), which is already durable: no write of the mark.
    const second = start(file);
    expect(second.stan).toBe(used + STAN_BLOCK - 1);
    second.db.close();
    expect(statSync(mark).ino).toBe(before.ino);
    expect(statSync(mark).mtimeMs).toBe(before.mtime);

    // Counters and mark agree: the start writes nothing at all.
    const wal = walBytes(file);
    const third = start(file);
    expect(walBytes(file)).toBe(wal);
    expect(statSync(mark).ino).toBe(before.ino);
    // The next STAN is still past every number the first run may have used.
    expect(Number(nextStan(third.db))).toBe(used + STAN_BLOCK);
    third.db.close();
    expect(JSON.parse(readFileSync(mark, 'utf8'))).not.toEqual(JSON.parse(before.text));
  });

  it('is written again when the start moves the counters (a restored copy)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-high-water-')), 'pos.db');
    const first = start(file);
    nextStan(first.db);
    flagBackupCopy(first.db);
    first.db.close();
    const before = JSON.parse(readFileSync(highWaterFile(file), 'utf8')) as { stan: number; batch: number };
    const restored = start(file);
    expect(restored.restored).toBe(true);
    const after = JSON.parse(readFileSync(highWaterFile(file), 'utf8')) as { stan: number; batch: number };
    expect(after.stan).toBeGreaterThan(before.stan);
    expect(after.batch).toBe(before.batch + 1);
    restored.db.close();
  });
});
