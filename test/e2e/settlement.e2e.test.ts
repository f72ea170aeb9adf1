import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { TEST_CARDS } from '../../sim/cards.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The journal as an auditor would compare it: every payment and its whole history. */
function journalOf(file: string): unknown {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      transactions: db.prepare('SELECT * FROM transactions ORDER BY id').all(),
      events: db.prepare('SELECT * FROM transaction_events ORDER BY id').all(),
    };
  } finally {
    db.close();
  }
}

/** Field 63 computed straight from the journal file, independently of the settlement code. */
function journalField63(file: string, batch: number): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        `SELECT
           sum(type = 'sale' AND state IN ('approved', 'forwarded_approved')) AS sc,
           coalesce(sum(CASE WHEN type = 'sale' AND state IN ('approved', 'forwarded_approved') THEN amount END), 0) AS sa,
           sum(type = 'refund' AND state = 'approved') AS rc,
           coalesce(sum(CASE WHEN type = 'refund' AND state = 'approved' THEN amount END), 0) AS ra
         FROM transactions WHERE batch_number = ?`,
      )
      .get(batch) as { sc: number; sa: number; rc: number; ra: number };
    const n = (v: number, len: number) => String(v).padStart(len, '0');
    return `${n(row.sc, 6)}${n(row.sa, 12)}${n(row.rc, 6)}${n(row.ra, 12)}`;
  } finally {
    db.close();
  }
}

/**
 * End-of-day settlement against the simulator: real pseudo-terminals for reader and
 * printer, the simulated acquirer on real TCP, the journal in a real SQLite file.
 */
describe('settlement end to end on the simulator', () => {
  let sim: Simulator;
  let terminal: App;
  let dataDir: string;
  let dbFile: string;

  beforeAll(async () => {
    sim = await Simulator.start();
    dataDir = mkdtempSync(join(tmpdir(), 'pos-settle-'));
    dbFile = join(dataDir, 'pos-companion.db');
    const ep = sim.endpoints;
    const config = parseConfig({
      dataDir,
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: { address: ep.hostAddress, port: ep.hostPort, responseTimeoutMs: 5000, reconnectMinMs: 100, reconnectMaxMs: 500 },
      tms: { url: ep.tmsUrl },
      log: { level: 'silent', target: 'stdout' },
      jobs: { timezone: 'UTC' },
    });
    terminal = compose(config, { logger: silentLogger });
    await terminal.start();
  }, 60_000);

  afterAll(async () => {
    await terminal?.stop();
    await sim?.stop();
  }, 60_000);

  it('settles online and offline sales and a refund: the host totals equal the journal, batch closed, report printed', async () => {
    expect((await terminal.terminal.sale(1234)).result).toBe('approved');
    expect((await terminal.terminal.sale(500)).result).toBe('approved');
    expect((await terminal.terminal.refund(300)).result).toBe('approved');

    await sim.host.stop();
    await until('link offline', () => terminal.link.state === 'offline');
    expect((await terminal.terminal.sale(800)).result).toBe('offline_approved');
    await sim.host.start();
    await until('link online', () => terminal.link.state === 'online');

    const reports: string[] = [];
    sim.printer.on('receipt', (r: { text: string }) => reports.push(r.text));
    const run = await terminal.terminal.settle();
    expect(run).toMatchObject({ outcome: 'ok', error: null });

    const closed = sim.host.ledger.settlement('TERM0001', 1);
    expect(closed).toMatchObject({ responseCode: '00' });
    expect(closed!.terminalTotals).toBe(closed!.hostTotals);
    expect(closed!.hostTotals).toBe(journalField63(dbFile, 1));
    expect(closed!.hostTotals).toBe('000003000000002534000001000000000300');

    expect(terminal.settlement.batch(1)).toMatchObject({ state: 'closed', responseCode: '00' });
    expect(terminal.settlement.openBatch().number).toBe(2);

    await until('settlement report printed', () => reports.some((t) => t.includes('SETTLEMENT')));
    const report = reports.find((t) => t.includes('SETTLEMENT'))!;
    expect(report).toMatch(/BATCH\s+000001/);
    expect(report).toMatch(/SALES x3\s+25\.34/);
    expect(report).toMatch(/OFFLINE x1\s+8\.00/);
    expect(report).toMatch(/REFUNDS x1\s+3\.00/);
    expect(report).toContain('IN BALANCE');
    for (const card of TEST_CARDS) expect(report).not.toContain(card.pan.slice(-8));
  }, 120_000);

  it('out of balance: the host holds a different figure; the batch is marked, alerted and kept for the technician', async () => {
    const sale = await terminal.terminal.sale(2000);
    expect(sale.result).toBe('approved');
    expect(sale.transaction.batchNumber).toBe(2);
    // The acquirer's books disagree with the terminal (a posting changed on the host side).
    const posting = sim.host.ledger.all().find((e) => e.stan === sale.transaction.stan)!;
    posting.amount += 100;

    const reports: string[] = [];
    sim.printer.on('receipt', (r: { text: string }) => reports.push(r.text));
    const run = await terminal.terminal.settle();
    expect(run.outcome).toBe('failed');
    expect(run.error).toMatch(/^SETTLEMENT_OUT_OF_BALANCE: batch 000002 out of balance/);

    expect(sim.host.ledger.settlement('TERM0001', 2)).toMatchObject({ responseCode: '95', terminalTotals: journalField63(dbFile, 2) });
    expect(terminal.settlement.batch(2)).toMatchObject({ state: 'out_of_balance', responseCode: '95', closedAt: null });
    expect(terminal.store.alerts.open().some((a) => a.key === 'settlement-out-of-balance:2' && a.severity === 'critical')).toBe(true);
    await until('out-of-balance report printed', () => reports.some((t) => t.includes('OUT OF BALANCE')));
    // Later sales go into the next batch, not the disputed one.
    expect((await terminal.terminal.sale(100)).transaction.batchNumber).toBe(3);
  }, 120_000);

  it('reports settlement results and a heartbeat with queue depths and disk space to the TMS', async () => {
    expect((await terminal.jobs.runNow('heartbeat')).outcome).toBe('ok');
    expect((await terminal.jobs.runNow('outbox-flush')).outcome).toBe('ok');
    const events = await sim.tms.waitFor(
      (all) => all.some((e) => e.type === 'heartbeat') && all.filter((e) => e.type === 'settlement.result').length >= 2,
      30_000,
    );
    const results = events.filter((e) => e.type === 'settlement.result').map((e) => e.payload);
    expect(results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ batchNumber: 1, result: 'in_balance', salesCount: 3, salesAmount: 2534 }),
        expect.objectContaining({ batchNumber: 2, result: 'out_of_balance', responseCode: '95' }),
      ]),
    );
    const beat = events.find((e) => e.type === 'heartbeat')!.payload as Record<string, Record<string, unknown>>;
    expect(beat.devices).toMatchObject({ host: 'online', reader: 'connected' });
    expect(beat.saf).toMatchObject({ depth: 0 });
    expect(beat.reversals).toMatchObject({ pending: 0 });
    expect(beat.versions!.app).toMatch(/^\d+\.\d+\.\d+/);
    expect(beat.disk!.freeBytes).toBeGreaterThan(0);
  }, 120_000);

  it('a nightly backup restored into a fresh process yields the same journal', async () => {
    const run = await terminal.jobs.runNow('backup');
    expect(run.outcome).toBe('ok');
    const backupFile = String(run.detail?.file);
    // Read from the live database the terminal keeps writing to, not from the copy.
    const before = journalOf(dbFile);

    const restoreCfg = writeSimConfig(sim);
    const bogus = join(restoreCfg.dataDir, 'not-a-backup.db');
    writeFileSync(bogus, 'this is not a database');
    const refused = new TerminalProcess(['--config', restoreCfg.configPath, '--restore-backup', bogus]);
    expect(await refused.exit()).not.toBe(0);
    expect(refused.stderr).toMatch(/BACKUP_CORRUPT/);

    const restore = new TerminalProcess(['--config', restoreCfg.configPath, '--restore-backup', backupFile]);
    expect(await restore.exit()).toBe(0);
    expect(restore.stdout).toContain(`restored ${backupFile}`);
    const fresh = new TerminalProcess(['--config', restoreCfg.configPath]);
    try {
      await fresh.waitFor(/pos-companion ready/, 60_000);
      fresh.type('q');
      expect(await fresh.exit()).toBe(0);
    } finally {
      if (fresh.child.exitCode === null) await fresh.kill();
    }
    const after = journalOf(join(restoreCfg.dataDir, 'pos-companion.db'));
    expect(after).toEqual(before);
    expect((before as { transactions: unknown[] }).transactions.length).toBe(6);
  }, 120_000);
});
