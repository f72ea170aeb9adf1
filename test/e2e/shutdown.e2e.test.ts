import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/** SIGTERM/SIGINT from systemd or a technician: finish what is in flight, then exit cleanly. */
describe('graceful shutdown', () => {
  let sim: Simulator | undefined;
  let terminal: TerminalProcess | undefined;

  afterEach(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await sim?.stop();
  });

  it('exits 0 on SIGTERM when idle', async () => {
    sim = await Simulator.start();
    const { configPath } = writeSimConfig(sim);
    terminal = new TerminalProcess(['--config', configPath]);
    await terminal.waitFor(/pos-companion ready/);
    expect(await terminal.kill('SIGTERM')).toBe(0);
  });

  it('lets a sale waiting for the host finish before exiting on SIGINT', async () => {
    sim = await Simulator.start();
    const { configPath, dataDir } = writeSimConfig(sim);
    sim.host.queue({ type: 'delay', ms: 1500, then: { type: 'approve' } });
    const arrived = new Promise<void>((resolve) => sim!.host.onRequest((m) => m.mti === '0200' && resolve()));
    terminal = new TerminalProcess(['--config', configPath]);
    await terminal.waitFor(/pos-companion ready/);
    terminal.type('8.00');
    await arrived;
    const code = await terminal.kill('SIGINT');
    expect(code).toBe(0);
    expect(terminal.stdout).toMatch(/APPROVED auth/);
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT state, amount FROM transactions').all()).toEqual([{ state: 'approved', amount: 800 }]);
    } finally {
      db.close();
    }
    expect(sim.host.ledger.posted()).toHaveLength(1);
  });
});
