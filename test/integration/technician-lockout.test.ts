import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../firmware-app/config/load.js';
import { openDatabase } from '../../firmware-app/store/db.js';
import { lockoutStore } from '../../firmware-app/store/lockout.js';
import { hashPin } from '../../firmware-app/ui/diagnostics/pin.js';
import { pinGuardFor } from '../../firmware-app/ui/start.js';
import { ManualClock } from '../support/manual-clock.js';

const PIN_HASH = hashPin('2468', { N: 1024, r: 8, p: 1 });

describe('technician lockout (real SQLite file)', () => {
  it('survives a restart and escalates, with the default settings, to at least 30 minutes', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pos-lockout-')), 'pos-companion.db');
    const config = parseConfig({ diagnostics: { pinHash: PIN_HASH } });
    const clock = new ManualClock();
    // Each round is a fresh process: a new connection and a new guard on the same database.
    const restart = () => {
      const db = openDatabase(file);
      return { db, guard: pinGuardFor(config, clock, lockoutStore(db)) };
    };
    const delays: number[] = [];
    for (let round = 0; round < 6; round++) {
      let { db, guard } = restart();
      for (let i = 0; i < config.diagnostics.maxPinFailures - 1; i++) expect(guard.check('0000')).toMatchObject({ reason: 'wrong-pin' });
      db.close();
      // Restarting between wrong PINs does not reset the count either.
      ({ db, guard } = restart());
      const locked = guard.check('0000');
      expect(locked).toMatchObject({ ok: false, reason: 'locked' });
      delays.push((locked as { lockedForMs: number }).lockedForMs);
      db.close();
      ({ db, guard } = restart());
      expect(guard.check('2468')).toMatchObject({ ok: false, reason: 'locked' });
      clock.advance(delays.at(-1)!);
      db.close();
    }
    expect(delays).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000]);
    expect(Math.max(...delays)).toBeGreaterThanOrEqual(30 * 60_000);
    const { db, guard } = restart();
    expect(guard.check('2468')).toEqual({ ok: true });
    db.close();
  });

  it('refuses a configuration whose longest lockout is under 30 minutes, or that allows more than 10 tries', () => {
    expect(() => parseConfig({ diagnostics: { lockoutMaxMs: 600_000 } })).toThrow(ConfigError);
    expect(() => parseConfig({ diagnostics: { lockoutMaxMs: 600_000 } })).toThrow(/diagnostics\.lockoutMaxMs: must be at least 1800000/);
    expect(() => parseConfig({ diagnostics: { maxPinFailures: 11 } })).toThrow(/diagnostics\.maxPinFailures/);
  });
});
