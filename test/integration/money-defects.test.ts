import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import { explain } from '../../firmware-app/declines/catalog.js';
import { declineStatistics } from '../../firmware-app/declines/statistics.js';
import type { SaleProgress } from '../../firmware-app/payments/sale.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { TerminalAdapter } from '../../firmware-app/ui/terminal-adapter.js';
import { Simulator } from '../../sim/index.js';

/**
 * Money defects found by outside checks, each as a story against the simulator: reader and
 * printer on real socat ptys, host on loopback TCP, journal in a real SQLite file.
 */
describe('money defects', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  let terminalId = 'TERM0000';
  let terminals = 0;

  beforeAll(async () => {
    sim = await Simulator.start();
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
  }, 60_000);

  afterEach(async () => {
    await terminal?.stop();
    terminal = undefined;
    sim.host.defaultAction = { type: 'approve' };
    for (const mti of ['0400', '0800'] as const) delete sim.host.defaults[mti];
    sim.reader.autoPresent = true;
  });

  /** Each story is its own terminal: the host recognises repeats by terminal id + STAN. */
  async function startTerminal(extra: Record<string, unknown> = {}): Promise<App> {
    const ep = sim.endpoints;
    terminalId = `TERM${String(900 + ++terminals).padStart(4, '0')}`;
    const config = parseConfig({
      terminal: { id: terminalId },
      dataDir: mkdtempSync(join(tmpdir(), 'pos-money-')),
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: {
        address: ep.hostAddress,
        port: ep.hostPort,
        connectTimeoutMs: 1500,
        responseTimeoutMs: 1500,
        echoIntervalMs: 300,
        echoTimeoutMs: 1000,
        reconnectMinMs: 100,
        reconnectMaxMs: 500,
        reversalTimeoutMs: 500,
        reversalBackoffMinMs: 200,
        reversalBackoffMaxMs: 500,
      },
      log: { level: 'silent', target: 'stdout' },
      ...extra,
    });
    const t = compose(config, { logger: silentLogger, recoverEveryMs: 200 });
    terminal = t;
    await t.start();
    return t;
  }

  async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const fromThisTerminal = (mti: string) =>
    sim.host.received.filter((r) => r.message.mti === mti && r.message.fields.get(41) === terminalId);

  it('defect 1: with the sign-on refused, a sale is not sent (offline rules decide) and queued advices wait for the sign-on', async () => {
    sim.host.defaults['0800'] = { type: 'decline', code: '05' };
    const t = await startTerminal();
    expect(t.link.state).toBe('degraded');

    const sale = await t.terminal.sale(1_000);
    expect(fromThisTerminal('0200')).toHaveLength(0);
    expect(sale.result).toBe('offline_approved');
    expect(t.link.ready).toBe(false);
    expect(sim.host.ledger.all().filter((p) => p.terminalId === terminalId)).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 700));
    expect(fromThisTerminal('0220')).toHaveLength(0);

    // The host learns the terminal: the next sign-on (in place of an echo) succeeds and the advice goes.
    delete sim.host.defaults['0800'];
    await until('the advice to be accepted', () => t.journal.get(sale.transaction.id).state === 'forwarded_approved');
    expect(fromThisTerminal('0220')).toHaveLength(1);
  }, 60_000);

  it('defect 2: a void whose answer is lost keeps settlement from closing the batch until its reversal is acknowledged', async () => {
    const t = await startTerminal();
    const sale = await t.terminal.sale(5_000);
    expect(sale.result).toBe('approved');
    sim.host.queue({ type: 'drop' });
    sim.host.defaults['0400'] = { type: 'drop' };
    const voided = await t.terminal.void(sale.transaction.id);
    expect(voided.result).toBe('reversal_pending');
    expect(t.journal.get(sale.transaction.id).state).toBe('approved');

    await expect(t.settlement.settle(Date.now())).rejects.toMatchObject({ code: 'SETTLEMENT_BLOCKED' });
    expect(fromThisTerminal('0500')).toHaveLength(0);

    delete sim.host.defaults['0400'];
    await until('the void to be reversed', () => t.journal.get(voided.transaction.id).state === 'reversed');
    const outcomes = await t.settlement.settle(Date.now());
    // The blocked batch first, then the one opened by this run's cut-over: both agree with the host.
    expect(outcomes.map((o) => o.result)).toEqual(['in_balance', 'in_balance']);
    expect(t.settlement.batch(outcomes[0]!.batchNumber)?.state).toBe('closed');
  }, 60_000);

  it('defect 3: a sale with a refund is not voidable, so no more than the sale goes back', async () => {
    const t = await startTerminal();
    const sale = await t.terminal.sale(5_000);
    const refund = await t.terminal.refund(2_000, { originalId: sale.transaction.id });
    expect(refund.result).toBe('approved');
    await expect(t.terminal.void(sale.transaction.id)).rejects.toMatchObject({ code: 'ORIGINAL_NOT_VOIDABLE' });
    expect(t.sales.whyNotVoidable(sale.transaction.id)).toMatch(/refund/);
    const voids = sim.host.ledger.all().filter((p) => p.terminalId === terminalId && p.kind === 'void');
    expect(voids).toHaveLength(0);
  }, 60_000);

  /** The journal turns read-only just as the host posts the sale: its answer cannot be committed. */
  async function saleStrandedByStorage(t: App): Promise<{ stan: string; failed: Error }> {
    let stan = '';
    sim.host.onRequest((m) => {
      if (m.mti !== '0200' || m.fields.get(41) !== terminalId || stan) return;
      stan = String(m.fields.get(11));
      t.db.pragma('query_only = ON');
    });
    const failed = await t.terminal.sale(900).then(
      () => new Error('the sale should not have completed'),
      (err: Error) => err,
    );
    expect(sim.host.ledger.get(terminalId, stan)?.status).toBe('posted');
    return { stan, failed };
  }

  it('defect 5a: a sale stranded by a storage fault after the 0200 left does not tell the cashier nothing was charged', async () => {
    const t = await startTerminal();
    const { failed } = await saleStrandedByStorage(t);
    t.db.pragma('query_only = OFF');
    expect(failed.message).not.toMatch(/Nothing was charged/);
    expect(failed.message).toMatch(/The payment reached the host and is being reversed; the customer may see a temporary hold/);
  }, 60_000);

  it('defect 5b: a sale stranded by a storage fault is reversed while the terminal is idle, with no further payment', async () => {
    const t = await startTerminal();
    const { stan } = await saleStrandedByStorage(t);
    t.db.pragma('query_only = OFF');
    // No further payment: the idle recovery finds it.
    await until('the stranded sale to be reversed at the host', () => sim.host.ledger.get(terminalId, stan)?.status === 'reversed');
    await until('the journal to agree', () => t.journal.findByStan(stan)?.state === 'reversed');
  }, 60_000);

  it('defect 6: once the 0200 is out a cancel is refused, and the answer decides', async () => {
    const t = await startTerminal();
    sim.host.queue({ type: 'delay', ms: 600 });
    let cancel: Promise<string> | undefined;
    const sale = await t.terminal.sale(700, (p: SaleProgress) => {
      if (p === 'waiting-for-host') cancel = t.terminal.cancel();
    });
    expect(await cancel).toBe('too-late');
    expect(sale.result).toBe('approved');
  }, 60_000);

  it('defect 7: cashier cancels are cancels: not declines, reported as cancels, not in the decline rate', async () => {
    const t = await startTerminal({ alerts: { minSamples: 3, declineRatePercent: 50, declineClearPercent: 40 } });
    sim.reader.autoPresent = false;
    for (let i = 0; i < 4; i++) {
      let cancel: Promise<string> | undefined;
      const outcome = await t.terminal.sale(300 + i, (p: SaleProgress) => {
        if (p === 'waiting-for-card') cancel = new Promise((r) => setTimeout(r, 100)).then(() => t.terminal.cancel());
      });
      expect(outcome).toMatchObject({ result: 'cancelled', code: 'CASHIER_CANCELLED' });
      expect(outcome.transaction.state).toBe('cancelled');
      expect(await cancel).toBe('cancelling');
    }
    const types = t.db.prepare<[], { type: string; n: number }>(`SELECT type, count(*) AS n FROM outbox GROUP BY type`).all();
    expect(types.find((r) => r.type === 'cancel')?.n).toBe(4);
    expect(types.find((r) => r.type === 'decline')).toBeUndefined();
    expect(declineStatistics(t.store.transactions).total).toBe(0);
    t.monitors.evaluate();
    expect(t.store.alerts.open().map((a) => a.key)).not.toContain('declines.rate');
    expect(new TerminalAdapter(t.terminal).lastDecline()).toBeUndefined();
  }, 60_000);

  it('a technician card-read test or device info never races a sale for the reader, and a test page goes through the print queue', async () => {
    const ep = sim.endpoints;
    const t = await startTerminal({ reader: { path: ep.readerPath, commandTimeoutMs: 5000, readTimeoutMs: 3000 } });
    const technician = new TerminalAdapter(t.terminal);
    sim.reader.autoPresent = false;
    let test: ReturnType<TerminalAdapter['cardReadTest']> | undefined;
    let info: ReturnType<TerminalAdapter['deviceInfo']> | undefined;
    const sale = await t.terminal.sale(600, (p: SaleProgress) => {
      if (p !== 'waiting-for-card') return;
      info = technician.deviceInfo();
      test = technician.cardReadTest();
      void Promise.all([test, info]).then(() => t.terminal.cancel());
    });
    expect(await test).toMatchObject({ ok: false, error: expect.stringMatching(/^DEVICE_BUSY/) as unknown });
    expect((await info)?.reader.error).toBe('DEVICE_BUSY');
    expect(sale.result).toBe('cancelled');
    sim.reader.autoPresent = true;
    expect(await technician.cardReadTest()).toMatchObject({ ok: true });

    expect(await technician.testPrint()).toEqual({ printed: true });
    // Its printed mark commits when the print pass ends, with any other slip of the pass.
    const jobs = () => t.db.prepare<[], { kind: string; state: string }>(`SELECT kind, state FROM print_jobs WHERE kind = 'test'`).all();
    await expect.poll(jobs).toEqual([{ kind: 'test', state: 'printed' }]);
  }, 60_000);

  it('defect 8: a void with no answer tells the cashier the void did not happen and the sale stands', async () => {
    const t = await startTerminal();
    const sale = await t.terminal.sale(4_200);
    sim.host.queue({ type: 'drop' });
    const voided = await t.terminal.void(sale.transaction.id);
    expect(voided.result).toBe('reversal_pending');
    expect(voided.message).not.toMatch(/reversed - retry|not charged/i);
    expect(voided.message).toMatch(/Void not done.*sale stands/);
    const entry = explain(voided.code ?? '');
    expect(entry.customer.en).toMatch(/still charged/);
    expect(t.journal.get(sale.transaction.id).state).toBe('approved');
  }, 60_000);
});
