import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../drivers/base/clock.js';
import { silentLogger } from '../../drivers/base/logger.js';
import type { Config } from '../../firmware-app/config/schema.js';
import { Journal } from '../../firmware-app/payments/journal.js';
import { openDatabase } from '../../firmware-app/store/db.js';
import { compose } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { inProcessConfig } from '../support/terminal-process.js';
import { storeOf } from '../support/store.js';

/**
 * What a power cut leaves in the journal, and what start-up makes of it: payments that never
 * reached the host are closed as not charged; one that may have reached it is reversed.
 */
describe('start-up recovery of interrupted payments', () => {
  let sim: Simulator;
  let config: Config;

  beforeAll(async () => {
    sim = await Simulator.start();
    config = inProcessConfig(sim, 'pos-recovery-');
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
  }, 60_000);

  it('closes created and card_read payments as not completed and reverses online_sent', async () => {
    const db = openDatabase(join(config.dataDir, 'pos-companion.db'));
    const journal = new Journal(storeOf(db), systemClock);
    const created = journal.create({ type: 'sale', amount: 100, currency: 'CNY' });
    const read = journal.create({ type: 'sale', amount: 200, currency: 'CNY' });
    journal.transition(read.id, 'card_read', { last4: '1111' });
    const sent = journal.create({ type: 'sale', amount: 300, currency: 'CNY' });
    journal.transition(sent.id, 'card_read', { last4: '1111' });
    journal.transition(sent.id, 'online_sent', { stan: '000777', stanDay: '2026-11-23', transmittedAt: '1123101010' });
    db.close();

    const terminal = compose(config, { logger: silentLogger });
    try {
      await terminal.start();
      expect(terminal.journal.get(created.id)).toMatchObject({ state: 'not_completed', declineCode: 'PAYMENT_INTERRUPTED' });
      expect(terminal.journal.get(read.id)).toMatchObject({ state: 'not_completed', declineCode: 'PAYMENT_INTERRUPTED' });
      expect(['reversal_pending', 'reversed']).toContain(terminal.journal.get(sent.id).state);
      const { remaining } = await terminal.reversals.drain();
      expect(remaining).toBe(0);
      expect(terminal.journal.get(sent.id).state).toBe('reversed');
    } finally {
      await terminal.stop();
    }
  });
});
