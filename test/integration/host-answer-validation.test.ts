import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import { explain } from '../../firmware-app/declines/catalog.js';
import { REVERSAL_NOTICE } from '../../firmware-app/declines/reversal-notice.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import type { HostAction, IsoMessage } from '../../sim/host/host-sim.js';

/**
 * The certification lab's cases: a host that answers a 0200 with something other than what
 * the document allows. The terminal (in-process) runs against the simulator (reader and
 * printer on socat ptys, host on loopback TCP, journal in a SQLite file); the simulated host
 * posts each sale by its rules and then tampers with the 0210. Each story ends unapproved,
 * reversed at the host, alerted, with the cashier told so in both languages, and the
 * terminal still taking payments.
 */
describe('host answers that do not fit the request', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  let terminalId = 'TVAL0000';
  let terminals = 0;
  const slips: string[] = [];

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: { text: string }) => slips.push(r.text));
  });

  afterAll(async () => {
    await sim.stop();
  });

  afterEach(async () => {
    await terminal?.stop();
    terminal = undefined;
    sim.host.defaultAction = { type: 'approve' };
  });

  async function startTerminal(language: 'en' | 'zh-CN' = 'en'): Promise<App> {
    const ep = sim.endpoints;
    terminalId = `TVAL${String(++terminals).padStart(4, '0')}`;
    const config = parseConfig({
      terminal: { id: terminalId, language },
      dataDir: mkdtempSync(join(tmpdir(), 'pos-validate-it-')),
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: {
        address: ep.hostAddress,
        port: ep.hostPort,
        responseTimeoutMs: 10_000,
        reconnectMinMs: 100,
        reconnectMaxMs: 500,
        reversalTimeoutMs: 2000,
        reversalBackoffMinMs: 200,
        reversalBackoffMaxMs: 1000,
      },
      log: { level: 'silent', target: 'stdout' },
    });
    const t = compose(config, { logger: silentLogger });
    terminal = t;
    await t.start();
    expect(t.link.state).toBe('online');
    return t;
  }

  const invalidAlerts = (t: App) => t.store.alerts.open().filter((a) => a.key.startsWith('host-answer-invalid:'));
  const reversalsOf = (stan: string): IsoMessage[] =>
    sim.host.received
      .map((r) => r.message)
      .filter((m) => m.mti.startsWith('040') && m.fields.get(41) === terminalId && String(m.fields.get(90)).slice(4, 10) === stan);

  /** The sale ends reversed, never approved, and the terminal goes on: the next sale is approved. */
  async function expectReversedAndAlerted(t: App, amount: number, tamper: HostAction): Promise<void> {
    sim.host.queue(tamper);
    slips.length = 0;
    const outcome = await t.terminal.sale(amount);
    expect(outcome.result).toBe('reversal_pending');
    expect(outcome.code).toBe('HOST_PROTOCOL');
    const stan = outcome.transaction.stan!;
    expect(invalidAlerts(t)).toContainEqual(expect.objectContaining({ key: `host-answer-invalid:0200:${stan}`, severity: 'critical' }));
    await expect.poll(() => t.journal.get(outcome.transaction.id).state, { timeout: 20_000 }).toBe('reversed');
    // The host had posted it before it sent the bad answer: money moved, and the reversal took it back.
    expect(sim.host.ledger.get(terminalId, stan)?.status).toBe('reversed');
    expect(sim.host.ledger.snapshot().reversals.find((r) => r.terminalId === terminalId && r.originalStan === stan)?.effect).toBe(
      'reversed',
    );
    expect(reversalsOf(stan)[0]?.mti).toBe('0400');
    expect(t.journal.get(outcome.transaction.id).authCode).toBeNull();

    const next = await t.terminal.sale(100);
    expect(next.result).toBe('approved');
  }

  it('tells the cashier in both languages, on screen and slip, that the host answer was invalid and the sale is being reversed; "not charged" only once the 0410 is in', async () => {
    expect(explain('HOST_PROTOCOL').cashier).toEqual({
      en: 'Host answer invalid - reversed, retry',
      'zh-CN': '主机应答无效，已冲正，请重试',
    });
    // The slip wraps long lines: compare without whitespace.
    const squash = (text: string) => text.replace(/\s+/g, '');
    for (const language of ['en', 'zh-CN'] as const) {
      const t = await startTerminal(language);
      // The first 0400's answer is lost, so the reversal is still unacknowledged when the slip prints.
      sim.host.queueFor('0400', { type: 'drop' });
      sim.host.queue({ type: 'tamper', set: { 4: '000000001201' } });
      slips.length = 0;
      const outcome = await t.terminal.sale(1101);
      expect(outcome.message).toBe(
        'DECLINED: Host answer invalid - reversed, retry. The payment is being reversed; the customer may see a temporary hold',
      );
      // The customer copy gives the customer's words for the decline; the screen gives the cashier's.
      await expect.poll(() => squash(slips.join(''))).toContain(squash(explain('HOST_PROTOCOL').customer[language]));
      const slip = squash(slips.join(''));
      expect(slip).toContain(squash(REVERSAL_NOTICE.pending[language]));
      expect(slip).not.toContain(squash(REVERSAL_NOTICE.acknowledged[language]));
      expect(slips.join('\n')).not.toMatch(/APPROVED|交易成功/);

      await expect.poll(() => t.journal.get(outcome.transaction.id).state, { timeout: 30_000 }).toBe('reversed');
      slips.length = 0;
      expect((await t.terminal.reprint(outcome.transaction.id)).printed).toBe(true);
      await expect.poll(() => squash(slips.join(''))).toContain(squash(REVERSAL_NOTICE.acknowledged[language]));
      await t.stop();
      terminal = undefined;
    }
  });

  it.each<[string, HostAction]>([
    ['amount 12.01 for a sale of 11.01', { type: 'tamper', set: { 4: '000000001201' } }],
    ['currency 840 for 156', { type: 'tamper', set: { 49: '840' } }],
    ['processing code 200000 (refund) for a sale', { type: 'tamper', set: { 3: '200000' } }],
    ['another merchant id', { type: 'tamper', set: { 42: '000000000000009' } }],
    ['another terminal id', { type: 'tamper', set: { 41: 'TOTHER01' } }],
    ['no amount', { type: 'tamper', remove: [4] }],
    ['no currency', { type: 'tamper', remove: [49] }],
    ['no RRN on 00', { type: 'tamper', remove: [37] }],
    ['no approval code on 00', { type: 'tamper', remove: [38] }],
    ['no field 39 (the host posted the sale)', { type: 'tamper', remove: [39] }],
  ])('a 0210 with %s: not approved, reversed, alerted, and the terminal goes on', async (_case, tamper) => {
    const t = await startTerminal();
    await expectReversedAndAlerted(t, 1101, tamper);
  });

  it('a 0410 with a changed amount acknowledges nothing: alerted, the reversal is repeated until a faithful 0410', async () => {
    const t = await startTerminal();
    sim.host.queueFor('0400', { type: 'tamper', set: { 4: '000000000001' } });
    await expectReversedAndAlerted(t, 2202, { type: 'tamper', remove: [39] });
    const sale = t.journal.recent(10).find((x) => x.amount === 2202)!;
    const sent = reversalsOf(sale.stan!);
    expect(sent.map((m) => m.mti)).toEqual(['0400', '0401']);
    expect(invalidAlerts(t).map((a) => a.key)).toContain(`host-answer-invalid:0400:${String(sent[0]!.fields.get(11))}`);
  });

  it('a 0230 with a changed amount settles no advice: alerted, repeated as 0221 until a faithful 0230', async () => {
    const t = await startTerminal();
    await sim.host.stop();
    await expect.poll(() => t.link.state).toBe('offline');
    const offline = await t.terminal.sale(1500);
    expect(offline.result).toBe('offline_approved');
    sim.host.queueFor('0220', { type: 'tamper', set: { 4: '000000000015' } });
    await sim.host.start();
    await expect.poll(() => t.journal.get(offline.transaction.id).state, { timeout: 30_000 }).toBe('forwarded_approved');
    const advices = sim.host.received.map((r) => r.message).filter((m) => m.mti.startsWith('022') && m.fields.get(41) === terminalId);
    expect(advices.map((m) => m.mti)).toEqual(['0220', '0221']);
    expect(invalidAlerts(t).map((a) => a.key)).toEqual([`host-answer-invalid:0220:${offline.transaction.stan}`]);
    expect(sim.host.ledger.get(terminalId, offline.transaction.stan!)).toMatchObject({ status: 'posted', receivedCount: 2 });
  });
});
