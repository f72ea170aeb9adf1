import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { loadConfig } from '../../firmware-app/config/load.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A restore from a backup taken before some sales: the restored journal's counters are
 * those of the backup's day, but the host has seen the STANs and the batch of the sales
 * made since. A reused STAN reads "already posted" at the host and the new payment would
 * never be collected; so every number after the restore must be new to the host.
 */
describe('restoring an older backup never reuses a STAN or a batch number with the host', () => {
  let sim: Simulator;
  let configPath: string;
  let dataDir: string;
  let terminal: App | undefined;

  beforeAll(async () => {
    sim = await Simulator.start();
    ({ configPath, dataDir } = writeSimConfig(sim, { host: { reconnectMinMs: 100, reconnectMaxMs: 500 }, jobs: { timezone: 'UTC' } }));
  }, 60_000);

  afterAll(async () => {
    await terminal?.stop();
    await sim?.stop();
  }, 60_000);

  const start = async () => {
    terminal = compose(loadConfig({ file: configPath, env: {} }), { logger: silentLogger });
    await terminal.start();
    await until('link online', () => terminal!.link.state === 'online');
    return terminal;
  };
  const offlineSale = async (t: App, amount: number) => {
    await sim.host.stop();
    await until('link offline', () => t.link.state === 'offline');
    const sale = await t.terminal.sale(amount);
    expect(sale.result).toBe('offline_approved');
    await sim.host.start();
    await until('advice forwarded', () => t.journal.get(sale.transaction.id).state === 'forwarded_approved');
    return t.journal.get(sale.transaction.id);
  };
  const stansSeen = () => new Set(sim.host.received.map((r) => String(r.message.fields.get(11))));
  const batchesSeen = () => new Set(sim.host.ledger.all().map((e) => e.batch));

  it('the next sales and the next settlement use numbers the host has never seen, and the host posts them', async () => {
    let t = await start();
    expect((await t.terminal.sale(1000)).result).toBe('approved');
    const backup = await t.jobs.runNow('backup');
    expect(backup.outcome).toBe('ok');
    // N sales after the backup, online and offline: the restore will lose them from the journal, the host keeps them.
    for (const amount of [1100, 1200]) expect((await t.terminal.sale(amount)).result).toBe('approved');
    await offlineSale(t, 1300);

    // A restore is refused while a terminal runs on the data folder.
    await t.stop();
    terminal = undefined;
    const running = new TerminalProcess(['--config', configPath]);
    try {
      await running.waitFor(/pos-companion ready/, 60_000);
      const refused = new TerminalProcess(['--config', configPath, '--restore-backup', String(backup.detail?.file)]);
      expect(await refused.exit()).not.toBe(0);
      expect(refused.stderr).toMatch(/DATA_DIR_IN_USE: a terminal is running on/);
      running.type('q');
      expect(await running.exit()).toBe(0);
    } finally {
      if (running.child.exitCode === null) await running.kill();
    }

    const restore = new TerminalProcess(['--config', configPath, '--restore-backup', String(backup.detail?.file)]);
    expect(await restore.exit()).toBe(0);
    const usedStans = stansSeen();
    const usedBatches = batchesSeen();

    t = await start();
    const online = await t.terminal.sale(2100);
    expect(online.result).toBe('approved');
    const offline = await offlineSale(t, 2200);
    for (const txn of [online.transaction, offline]) {
      expect(usedStans.has(txn.stan!), `STAN ${txn.stan} reused`).toBe(false);
      expect(usedBatches.has(txn.batchNumber), `batch ${txn.batchNumber} reused`).toBe(false);
      expect(sim.host.ledger.get('TERM0001', txn.stan!)).toMatchObject({ status: 'posted', amount: txn.amount, receivedCount: 1 });
    }
    expect(sim.host.ledger.get('TERM0001', offline.stan!)!.kind).toBe('advice');

    // The batch the backup left open holds only what the journal kept: the host has the lost sales too, so it stays for the technician.
    await t.terminal.settle();
    const newBatch = online.transaction.batchNumber;
    expect(sim.host.ledger.settlement('TERM0001', newBatch)).toMatchObject({ responseCode: '00' });
    expect(t.settlement.batch(newBatch)).toMatchObject({ state: 'closed' });
    const mark = JSON.parse(readFileSync(join(dataDir, 'counters-high-water.json'), 'utf8')) as { stan: number; batch: number };
    expect(mark.stan).toBeGreaterThanOrEqual(Number(offline.stan));
  }, 180_000);
});
