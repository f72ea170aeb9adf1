import type { Db } from './db.js';

/**
 * One repository per database handle, built on first use: its statements are prepared once,
 * and every writer of a queue reaches the same instance, so the queue that waits is the one
 * told that a row was added.
 */
export function perDatabase<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let repo = built.get(db);
    if (!repo) {
      repo = build(db);
      built.set(db, repo);
    }
    return repo;
  };
}

/** Listeners told, after the adding transaction, that a row was added. */
export class AddedSignal {
  private readonly listeners = new Set<() => void>();

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs on the microtask queue: after the surrounding SQLite transaction committed (or rolled back). */
  fire(): void {
    if (this.listeners.size === 0) return;
    queueMicrotask(() => {
      for (const listener of [...this.listeners]) listener();
    });
  }
}
