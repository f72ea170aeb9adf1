import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import type { LinkState } from '../../firmware-app/host/link.js';
import { reconcile } from '../../firmware-app/reconcile/reconcile.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';

/**
 * The terminal in-process against the simulator (reader and printer on real socat ptys,
 * host on loopback TCP, journal in a real SQLite file), with the host misbehaving. Each
 * story ends by reconciling the terminal's journal against the host's ledger.
 */
describe('sales when the host misbehaves', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  // The host recognises repeats by terminal id + STAN, and each test's fresh database starts
  // its STANs again at 000001: so each test is its own terminal.
  let terminalId = 'TERM0000';
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
    sim.host.defaultAction = { type: 'approve' };
  });

  async function startTerminal(): Promise<App> {
    const ep = sim.endpoints;
    terminalId = `TERM${String(++terminals).padStart(4, '0')}`;
    const config = parseConfig({
      terminal: { id: terminalId },
      dataDir: mkdtempSync(join(tmpdir(), 'pos-host-it-')),
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      host: {
        address: ep.hostAddress,
        port: ep.hostPort,
        responseTimeoutMs: 2000,
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

  function reversalsFor(stan: string): IsoMessage[] {
    return sim.host.received
      .map((r) => r.message)
      .filter(
        (m) => (m.mti === '0400' || m.mti === '0401') && m.fields.get(41) === terminalId && String(m.fields.get(90)).slice(4, 10) === stan,
      );
  }

  function reconciled(t: App) {
    return reconcile(t.journal.recent(1000), sim.host.ledger.all(), terminalId);
  }

  it('a lost 0210: the cashier sees a timeout decline, the reversal takes the posting back, reconcile is clean', async () => {
    const t = await startTerminal();
    sim.host.queue({ type: 'drop' });
    const outcome = await t.terminal.sale(2500);
    expect(outcome.result).toBe('reversal_pending');
    expect(outcome.message).toMatch(/Host did not answer - being reversed/);
    const stan = outcome.transaction.stan!;
    // The host did post it before the answer was lost.
    expect(sim.host.ledger.get(terminalId, stan)?.amount).toBe(2500);

    await expect.poll(() => t.journal.get(outcome.transaction.id).state, { timeout: 30_000 }).toBe('reversed');
    expect(sim.host.ledger.get(terminalId, stan)?.status).toBe('reversed');
    const sent = reversalsFor(stan);
    expect(sent[0]?.mti).toBe('0400');
    expect(new Set(sent.map((m) => m.fields.get(11))).size).toBe(1);
    expect(sim.host.received.filter((r) => r.message.mti === '0200' && r.message.fields.get(11) === stan)).toHaveLength(1);
    expect(t.reversals.pendingCount()).toBe(0);
    expect(reconciled(t)).toMatchObject({ clean: true, mismatches: [] });
  });

  it('a connection cut mid-answer: the link reconnects, the sale times out into a reversal sent over the new connection', async () => {
    const t = await startTerminal();
    const states: LinkState[] = [];
    t.link.on('state', (s: LinkState) => states.push(s));
    sim.host.queue({ type: 'close-mid-frame' });
    const outcome = await t.terminal.sale(3100);
    expect(outcome.result).toBe('reversal_pending');
    expect(states).toContain('offline');
    await expect.poll(() => t.journal.get(outcome.transaction.id).state, { timeout: 30_000 }).toBe('reversed');
    expect(t.link.state).toBe('online');
    expect(sim.host.ledger.get(terminalId, outcome.transaction.stan!)?.status).toBe('reversed');
    expect(reconciled(t).clean).toBe(true);
  });

  it('a duplicated 0210: one approval, one posting, the copy ignored', async () => {
    const t = await startTerminal();
    const unmatched: IsoMessage[] = [];
    t.link.on('unmatched', (m: IsoMessage) => unmatched.push(m));
    sim.host.queue({ type: 'duplicate' });
    const outcome = await t.terminal.sale(4200);
    expect(outcome.result).toBe('approved');
    await expect.poll(() => unmatched.length, { timeout: 20_000 }).toBe(1);
    expect(unmatched[0]!.fields.get(11)).toBe(outcome.transaction.stan);
    expect(t.journal.get(outcome.transaction.id).state).toBe('approved');
    expect(sim.host.ledger.get(terminalId, outcome.transaction.stan!)).toMatchObject({ status: 'posted', receivedCount: 1 });
    expect(reversalsFor(outcome.transaction.stan!)).toEqual([]);
    expect(reconciled(t).clean).toBe(true);
  });

  it('a slow host: its late 0210 is ignored, and the reversal that overtook the sale stops it from posting', async () => {
    const t = await startTerminal();
    sim.host.queue({ type: 'delay', ms: 3000, then: { type: 'approve' } });
    const late = new Promise<IsoMessage>((resolve) => t.link.once('unmatched', resolve));
    const outcome = await t.terminal.sale(5300);
    expect(outcome.result).toBe('reversal_pending');
    const answer = await late;
    // The 0400 reached the host before the slow 0200 was processed: the host answers it 12, posts nothing.
    expect(answer.mti).toBe('0210');
    expect(answer.fields.get(39)).toBe('12');
    await expect.poll(() => t.journal.get(outcome.transaction.id).state, { timeout: 30_000 }).toBe('reversed');
    expect(sim.host.ledger.get(terminalId, outcome.transaction.stan!)?.status).toBe('declined');
    expect(sim.host.ledger.posted().filter((e) => e.terminalId === terminalId)).toEqual([]);
    expect(reconciled(t).clean).toBe(true);
  });
});
