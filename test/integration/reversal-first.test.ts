import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import { explain } from '../../firmware-app/declines/catalog.js';
import type { PaymentProgress } from '../../firmware-app/payments/sale.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';

/**
 * The acquirer rule "reversal first", with the terminal in-process against the simulator
 * (socat ptys, loopback TCP, a SQLite file): while an earlier payment's reversal is
 * unacknowledged, the next 0200 waits for the 0410, and is refused (nothing sent) when the
 * 0410 does not come within host.reversalFirstTimeoutMs.
 */
describe('a pending reversal goes before the next payment', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  let terminalId = 'TREV0000';
  let terminals = 0;

  beforeAll(async () => {
    sim = await Simulator.start();
  });

  afterAll(async () => {
    await sim.stop();
  });

  afterEach(async () => {
    await terminal?.stop();
    terminal = undefined;
    delete sim.host.defaults['0400'];
  });

  async function startTerminal(reversalFirstTimeoutMs: number): Promise<App> {
    const ep = sim.endpoints;
    terminalId = `TREV${String(++terminals).padStart(4, '0')}`;
    const config = parseConfig({
      terminal: { id: terminalId },
      dataDir: mkdtempSync(join(tmpdir(), 'pos-rev-first-it-')),
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: {
        address: ep.hostAddress,
        port: ep.hostPort,
        responseTimeoutMs: 1500,
        reconnectMinMs: 100,
        reconnectMaxMs: 500,
        reversalTimeoutMs: 1000,
        reversalBackoffMinMs: 60_000,
        reversalBackoffMaxMs: 60_000,
        reversalFirstTimeoutMs,
      },
      log: { level: 'silent', target: 'stdout' },
    });
    const t = compose(config, { logger: silentLogger });
    terminal = t;
    await t.start();
    expect(t.link.state).toBe('online');
    return t;
  }

  const salesSeen = () => sim.host.received.filter((r) => r.message.mti === '0200' && r.message.fields.get(41) === terminalId);

  it('the next sale waits until the reversal is acknowledged, and the cashier sees why', async () => {
    const t = await startTerminal(20_000);
    // The first 0400's answer is lost; with a one-minute backoff the reversal would sit pending.
    sim.host.queue({ type: 'drop' });
    sim.host.queueFor('0400', { type: 'drop' });
    const first = await t.terminal.sale(1700);
    expect(first.result).toBe('reversal_pending');
    expect(t.reversals.pendingCount()).toBe(1);

    // What the terminal had recorded about the first sale when the second 0200 reached the host.
    const firstStateWhenSecondArrived: string[] = [];
    const id = terminalId;
    sim.host.onRequest((m) => {
      if (m.mti === '0200' && m.fields.get(41) === id) firstStateWhenSecondArrived.push(t.journal.get(first.transaction.id).state);
    });
    const progress: PaymentProgress[] = [];
    const second = await t.terminal.sale(1800, (p) => progress.push(p));
    expect(second.result).toBe('approved');
    expect(progress).toEqual(['waiting-for-card', 'card-read', 'sending-pending-reversal', 'waiting-for-host', 'done']);
    expect(firstStateWhenSecondArrived).toEqual(['reversed']);
    expect(sim.host.ledger.get(terminalId, first.transaction.stan!)?.status).toBe('reversed');
    expect(salesSeen()).toHaveLength(2);
  });

  it('the next sale is refused, nothing sent, when the reversal cannot be delivered within the bound', async () => {
    const t = await startTerminal(2500);
    sim.host.queue({ type: 'drop' });
    sim.host.defaults['0400'] = { type: 'drop' };
    const first = await t.terminal.sale(1900);
    expect(first.result).toBe('reversal_pending');

    const second = await t.terminal.sale(2000);
    expect(second.result).toBe('declined_local');
    expect(second.code).toBe('REVERSAL_FIRST_UNDELIVERED');
    expect(second.transaction.stan).toBeNull();
    expect(explain('REVERSAL_FIRST_UNDELIVERED').cashier).toEqual({
      en: 'Pending reversal not sent - retry later',
      'zh-CN': '待冲正交易未送达，请稍后重试',
    });
    expect(second.message).toBe('DECLINED: Pending reversal not sent - retry later');
    expect(salesSeen()).toHaveLength(1);
    expect(t.journal.get(first.transaction.id).state).toBe('reversal_pending');

    // The host answers reversals again: the next sale delivers the reversal and goes through.
    delete sim.host.defaults['0400'];
    const third = await t.terminal.sale(2100);
    expect(third.result).toBe('approved');
    expect(t.journal.get(first.transaction.id).state).toBe('reversed');
  });
});
