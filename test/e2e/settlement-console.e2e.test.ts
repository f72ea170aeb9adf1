import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/** The built process, driven through its console: a sale, then the cashier settles the day. */
describe('settling from the console of the built terminal', () => {
  let sim: Simulator;
  let terminal: TerminalProcess;

  beforeAll(async () => {
    sim = await Simulator.start();
    const cfg = writeSimConfig(sim, { jobs: { timezone: 'UTC' } });
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready/, 60_000);
  }, 90_000);

  afterAll(async () => {
    if (terminal.child.exitCode === null) await terminal.kill();
    await sim.stop();
  }, 60_000);

  it('closes the batch with the host and prints the settlement report', async () => {
    terminal.type('12.34');
    await terminal.waitFor(/APPROVED/, 60_000);
    const report = new Promise<{ text: string }>((resolve) =>
      sim.printer.on('receipt', (r: { text: string }) => r.text.includes('SETTLEMENT') && resolve(r)),
    );
    const from = terminal.stdout.length;
    terminal.type('settle');
    await terminal.waitFor(/Batch 000001: IN BALANCE, closed, report printed/, 60_000, from);
    expect(sim.host.ledger.settlement('TERM0001', 1)).toMatchObject({
      responseCode: '00',
      terminalTotals: '000001000000001234000000000000000000',
    });
    expect((await report).text).toMatch(/SALES x1\s+12\.34/);
    terminal.type('q');
    expect(await terminal.exit()).toBe(0);
  }, 120_000);
});
