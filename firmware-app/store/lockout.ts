import type { Db } from './db.js';

/** The technician PIN's lockout; the supervisor PIN keeps its own under another key. */
export const TECHNICIAN_LOCKOUT = 'diagnostics.lockout';
export const SUPERVISOR_LOCKOUT = 'ui.supervisorLockout';

interface State {
  failures: number;
  lockouts: number;
  lockedUntil: number;
}

/** A PIN lockout kept in `settings`, so restarting the process is no way around it. */
export function lockoutStore(db: Db, key: string = TECHNICIAN_LOCKOUT): { load(): State | undefined; save(state: State): void } {
  const read = db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`);
  const write = db.prepare<[string, string]>(
    `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
  );
  return {
    load() {
      const row = read.get(key);
      if (!row) return undefined;
      const s = JSON.parse(row.value) as Partial<State>;
      const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
      return { failures: n(s.failures), lockouts: n(s.lockouts), lockedUntil: n(s.lockedUntil) };
    },
    save(state) {
      write.run(key, JSON.stringify(state));
    },
  };
}
