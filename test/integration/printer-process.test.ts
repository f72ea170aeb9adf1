import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import type { PrintedReceipt } from '../../sim/printer/printer-sim.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The built process against the simulator, driven through its console: the roll runs out in
 * the middle of a receipt, the cashier sees it, loads paper, and the slips come out once.
 */
describe('paper out during a sale, end to end', () => {
  let sim: Simulator;
  let dataDir: string;
  let terminal: TerminalProcess;

  beforeAll(async () => {
    sim = await Simulator.start();
    const cfg = writeSimConfig(sim, { printer: { pollIntervalMs: 200 } });
    dataDir = cfg.dataDir;
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready \[.*printer ready.*\]/, 30_000);
  });

  afterAll(async () => {
    if (terminal.child.exitCode === null) await terminal.kill();
    await sim.stop();
  });

  it('keeps both copies queued while the paper is out, shows "paper out", and prints each once after the refill', async () => {
    sim.printer.runOutOfPaperAfter(300);
    terminal.type('12.34');
    await terminal.waitFor(/APPROVED auth \S+ RRN \d{12} STAN (\d{6})/, 30_000);
    await terminal.waitFor(/Receipt NOT printed: .*paper out.*kept in the print queue/, 30_000);
    expect(terminal.stdout).not.toMatch(/Receipt printed\./);
    expect(sim.printer.receipts).toHaveLength(0);
    expect(sim.printer.partials).toHaveLength(1);

    let from = terminal.stdout.length;
    terminal.type('status');
    await terminal.waitFor(/printer paper out \(2 waiting\)/, 30_000, from);

    const slips = new Promise<PrintedReceipt[]>((resolve) => {
      sim.printer.on('receipt', () => {
        if (sim.printer.receipts.length === 2) resolve([...sim.printer.receipts]);
      });
    });
    sim.printer.setPaperOut(false);
    const [merchant, customer] = await slips;
    expect(merchant!.text).toMatch(/APPROVED[\s\S]*MERCHANT COPY/);
    expect(customer!.text).toMatch(/CNY 12\.34[\s\S]*APPROVED[\s\S]*CUSTOMER COPY/);

    // The status line returns to ready once the queue has recorded both as printed.
    for (let i = 0; i < 100; i++) {
      from = terminal.stdout.length;
      terminal.type('status');
      const [line] = await terminal.waitFor(/\[host .*\]/, 30_000, from);
      if (line.includes('printer ready]')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(terminal.stdout.slice(from)).toMatch(/printer ready\]/);

    terminal.type('q');
    expect(await terminal.exit()).toBe(0);
    expect(sim.printer.receipts).toHaveLength(2);
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true });
    try {
      const jobs = db.prepare(`SELECT copy, state, attempts FROM print_jobs ORDER BY id`).all();
      // The customer copy waited behind the torn merchant copy: sent once, when paper was back.
      expect(jobs).toEqual([
        { copy: 'merchant', state: 'printed', attempts: 2 },
        { copy: 'customer', state: 'printed', attempts: 1 },
      ]);
    } finally {
      db.close();
    }
  });
});
