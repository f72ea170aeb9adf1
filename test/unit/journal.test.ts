import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../drivers/base/clock.js';
import { InvalidTransitionError, Journal } from '../../firmware-app/payments/journal.js';
import { nextStan } from '../../firmware-app/store/counters.js';
import { durabilitySettings, openDatabase } from '../../firmware-app/store/db.js';
import { MIGRATIONS, schemaVersion } from '../../firmware-app/store/migrations.js';
import { storeOf } from '../support/store.js';

const clock: Clock = {
  now: () => 1_800_000_000_000,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

function freshDb() {
  const file = join(mkdtempSync(join(tmpdir(), 'pos-db-')), 'pos.db');
  return { file, db: openDatabase(file) };
}

describe('the durable store', () => {
  it('opens with WAL and synchronous=FULL, mode 0600, migrated to the latest version', () => {
    const { file, db } = freshDb();
    expect(durabilitySettings(db)).toEqual({ journalMode: 'wal', synchronous: 2 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    db.close();
  });

  it('commits a payment rung up without flushing it on its own, and is back at synchronous=FULL after', () => {
    const { db } = freshDb();
    const journal = new Journal(storeOf(db), clock);
    let during: unknown;
    journal.onTransition(() => {
      during = db.pragma('synchronous', { simple: true });
    });
    const txn = journal.create({ type: 'sale', amount: 100, currency: 'CNY' }, { flush: false });
    // NORMAL in WAL mode: the commit is consistent, and the next durable commit carries it to the disk.
    expect(during).toBe(1);
    expect(durabilitySettings(db).synchronous).toBe(2);
    expect(journal.get(txn.id).state).toBe('created');
    journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    expect(during).toBe(2);
    db.close();
  });

  it('refuses a database from a newer build instead of guessing', () => {
    const { file, db } = freshDb();
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer than this build/);
  });

  it('keeps the STAN counter across restarts and wraps after 999999', () => {
    const { file, db } = freshDb();
    expect(nextStan(db)).toBe('000001');
    expect(nextStan(db)).toBe('000002');
    db.close();
    const again = openDatabase(file);
    expect(nextStan(again)).toBe('000003');
    again.prepare(`UPDATE counters SET value = 999999 WHERE name = 'stan'`).run();
    expect(nextStan(again)).toBe('000001');
    again.close();
  });

  it('records each transition with its event, and refuses impossible ones', () => {
    const { db } = freshDb();
    const j = new Journal(storeOf(db), clock);
    const t = j.create({ type: 'sale', amount: 500, currency: 'CNY' });
    j.transition(t.id, 'card_read', { last4: '1111' });
    j.transition(t.id, 'online_sent', { stan: '000001' });
    expect(() => j.transition(t.id, 'offline_approved')).toThrow(InvalidTransitionError);
    expect(() => j.transition(t.id, 'approved', {}, null, 'card_read')).toThrow(InvalidTransitionError);
    j.transition(t.id, 'approved', { authCode: 'A1' }, null, 'online_sent');
    expect(j.get(t.id)).toMatchObject({ state: 'approved', last4: '1111', stan: '000001', authCode: 'A1' });
    expect(j.events(t.id).map((e) => `${e.fromState}->${e.toState}`)).toEqual([
      'null->created',
      'created->card_read',
      'card_read->online_sent',
      'online_sent->approved',
    ]);
    db.close();
  });

  it('keeps history append-only and amounts positive integers', () => {
    const { db } = freshDb();
    const j = new Journal(storeOf(db), clock);
    j.create({ type: 'sale', amount: 1, currency: 'CNY' });
    expect(() => db.prepare('DELETE FROM transaction_events').run()).toThrow(/append-only/);
    expect(() => db.prepare('UPDATE transaction_events SET to_state = ?').run('approved')).toThrow(/append-only/);
    expect(() => j.create({ type: 'sale', amount: 0, currency: 'CNY' })).toThrow(/CHECK/);
    db.close();
  });
});

describe('transition observers', () => {
  it('commit together with the state change, and roll it back when they fail', () => {
    const { db } = freshDb();
    db.exec('CREATE TABLE side (txn INTEGER, state TEXT)');
    const j = new Journal(storeOf(db), clock);
    j.onTransition(({ txn, to }) => {
      db.prepare('INSERT INTO side VALUES (?, ?)').run(txn.id, to);
      if (to === 'declined_local' && txn.amount === 13) throw new Error('observer failed');
    });
    const ok = j.create({ type: 'sale', amount: 12, currency: 'CNY' });
    j.transition(ok.id, 'declined_local');
    const bad = j.create({ type: 'sale', amount: 13, currency: 'CNY' });
    expect(() => j.transition(bad.id, 'declined_local')).toThrow('observer failed');
    expect(j.get(bad.id).state).toBe('created');
    expect(db.prepare('SELECT txn, state FROM side ORDER BY rowid').all()).toEqual([
      { txn: ok.id, state: 'created' },
      { txn: ok.id, state: 'declined_local' },
      { txn: bad.id, state: 'created' },
    ]);
    db.close();
  });
});
