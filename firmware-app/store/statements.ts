import type Database from 'better-sqlite3';

/** More distinct SQL texts than the product has; a few callers build theirs with a varying number of placeholders. */
const CACHE_SIZE = 512;

/**
 * Makes `db.prepare` return the statement already prepared for the same SQL text. Preparing
 * parses and plans the SQL every time; a sale runs a few dozen statements, so re-preparing them
 * was a large share of its CPU time, spent inside its commits. A statement is only ever used
 * synchronously (an iteration ends or is broken off within the call that started it), so sharing
 * one is safe; its row mode is reset, since a caller may have switched it (pluck, raw, expand).
 */
export function reuseStatements(db: Database.Database): void {
  const prepare = db.prepare.bind(db) as (sql: string) => Database.Statement;
  const cache = new Map<string, Database.Statement>();
  const cached = (sql: string): Database.Statement => {
    let stmt = cache.get(sql);
    if (stmt === undefined) {
      stmt = prepare(sql);
      if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(sql, stmt);
    } else if (stmt.reader) {
      stmt.raw(false).expand(false).pluck(false);
    }
    return stmt;
  };
  db.prepare = cached as Database.Database['prepare'];
}
