import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../firmware-app/store/db.js';

let db: Db;
beforeEach(() => {
  db = openDatabase(join(mkdtempSync(join(tmpdir(), 'pos-stmt-')), 'pos.db'));
  db.exec(`CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'one'), (2, 'two')`);
});
afterEach(() => db.close());

it('a statement prepared again is the one already prepared, and answers with the same rows', () => {
  const sql = `SELECT a, b FROM t WHERE a = ?`;
  expect(db.prepare(sql)).toBe(db.prepare(sql));
  expect(db.prepare(sql).get(2)).toEqual({ a: 2, b: 'two' });
});

it('a caller that plucked or switched to raw rows does not change the rows the next caller gets', () => {
  const sql = `SELECT a, b FROM t ORDER BY a`;
  expect(db.prepare(sql).pluck().all()).toEqual([1, 2]);
  expect(db.prepare(sql).all()).toEqual([
    { a: 1, b: 'one' },
    { a: 2, b: 'two' },
  ]);
  expect(db.prepare(sql).raw().get()).toEqual([1, 'one']);
  expect(db.prepare(sql).get()).toEqual({ a: 1, b: 'one' });
});
