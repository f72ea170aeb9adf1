import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../firmware-app/declines/catalog.js';
import { TEST_CARDS } from '../../sim/cards.js';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

interface JournalDecline {
  uuid: string;
  state: string;
  decline_code: string;
}

/**
 * Declines end to end: the built process against the simulator, the TMS simulator going
 * down in the middle and the terminal process killed and restarted while reports are
 * still waiting. The cashier sees each reason, the slip prints it, and the TMS ends with
 * every decline exactly once.
 */
describe('declines explained at the counter and reported upstream', () => {
  let sim: Simulator;
  let configPath: string;
  let dataDir: string;
  let terminal: TerminalProcess;
  const slips: string[] = [];

  const start = async () => {
    terminal = new TerminalProcess(['--config', configPath]);
    await terminal.waitFor(/pos-companion ready/, 30_000);
  };

  /** Rings up a sale that ends declined or cancelled and returns the console output it produced. */
  const sale = async (amount: string, expectPrint: boolean) => {
    const from = terminal.stdout.length;
    const printed = slips.length;
    terminal.type(amount);
    await terminal.waitFor(/(?:DECLINED|CANCELLED): .*\n(?:.*\n)*?What to do: .*\n/, 30_000, from);
    if (expectPrint) {
      const deadline = Date.now() + 30_000;
      while (slips.length === printed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    }
    return { console: terminal.stdout.slice(from), slip: slips[printed] };
  };

  const journalDeclines = (): JournalDecline[] => {
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true, fileMustExist: true });
    try {
      return db
        .prepare(`SELECT uuid, state, decline_code FROM transactions WHERE decline_code IS NOT NULL ORDER BY id`)
        .all() as JournalDecline[];
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: { text: string }) => slips.push(r.text));
    ({ configPath, dataDir } = writeSimConfig(sim, {
      tms: { url: sim.tms.url, requestTimeoutMs: 1000, retryMinMs: 200, retryMaxMs: 1000, pollMs: 1000 },
      alerts: { minSamples: 3, declineRatePercent: 50, declineClearPercent: 30 },
    }));
    await start();
  }, 60_000);

  afterAll(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await sim.stop();
  });

  it('shows the reason and what to do, prints it on the slip, and reports it even when the TMS answer is lost', async () => {
    // The TMS stores the batch but answers after the terminal gave up: the terminal must repeat it.
    sim.tms.behaviour = { type: 'slow', ms: 2500 };
    sim.host.queue({ type: 'decline', code: '05' });
    const { console: shown, slip } = await sale('12.34', true);
    expect(shown).toContain(`DECLINED: ${explain('05').cashier.en}`);
    expect(shown).toContain(`What to do: ${explain('05').cashierHint}`);
    expect(slip).toContain('DECLINED');
    // The slip is the customer's copy: it carries the text meant for the cardholder.
    expect(slip).toContain(explain('05').customer.en);
    await sim.tms.waitFor((events) => events.some((e) => e.payload.code === '05' && e.received >= 2), 30_000);
    sim.tms.behaviour = { type: 'ok' };
  });

  it('keeps reporting through a TMS outage and a crash of the terminal process', async () => {
    await sim.tms.stop();
    sim.host.queue({ type: 'decline', code: '51' }, { type: 'decline', code: '54' });
    const second = await sale('20.00', true);
    expect(second.console).toContain(`DECLINED: ${explain('51').cashier.en}`);
    expect(second.slip).toContain(explain('51').customer.en);
    const third = await sale('30.00', true);
    expect(third.console).toContain(`DECLINED: ${explain('54').cashier.en}`);
    expect(third.slip).toContain(explain('54').customer.en);

    // Three declines out of three sales: the decline-rate alert is raised (and queued upstream too).
    await terminal.kill('SIGKILL');
    await sim.tms.start();
    sim.tms.failNext(1, 500);
    await start();

    sim.host.queue({ type: 'decline', code: '91' });
    const fourth = await sale('40.00', true);
    expect(fourth.console).toContain(`DECLINED: ${explain('91').cashier.en}`);
    expect(fourth.slip).toContain(explain('91').customer.en);

    // A cardholder's cancel on the reader is a cancel, not a decline: reported as one, apart.
    sim.reader.cancelByCardholder();
    const fifth = await sale('50.00', false);
    expect(fifth.console).toContain(`CANCELLED: ${explain('READER_CANCELLED').cashier.en}`);
    expect(fifth.console).not.toContain('DECLINED');

    const cancelled = journalDeclines().filter((d) => d.state === 'cancelled');
    expect(cancelled.map((d) => d.decline_code)).toEqual(['READER_CANCELLED']);
    const expected = journalDeclines().filter((d) => d.state !== 'cancelled');
    expect(expected.map((d) => d.decline_code)).toEqual(['05', '51', '54', '91']);
    const cancels = await sim.tms.waitFor((events) => events.some((e) => e.type === 'cancel'), 60_000);
    expect(cancels.filter((e) => e.type === 'cancel').map((e) => e.eventId)).toEqual([`cancel:${cancelled[0]!.uuid}`]);
    const stored = await sim.tms.waitFor((events) => events.filter((e) => e.type === 'decline').length >= expected.length, 60_000);
    const declines = stored.filter((e) => e.type === 'decline');
    expect(declines).toHaveLength(expected.length);
    for (const d of expected) {
      const event = declines.find((e) => e.eventId === `decline:${d.uuid}`);
      expect(event, d.decline_code).toBeDefined();
      expect(event!.terminalId).toBe('TERM0001');
      expect(event!.payload).toMatchObject({
        transactionId: d.uuid,
        code: d.decline_code,
        category: explain(d.decline_code).category,
        state: d.state,
        known: true,
      });
    }
    expect(sim.tms.deliveries.some((d) => d.status === 500)).toBe(true);
    expect(sim.tms.ofType('alert.raised').map((e) => e.payload.key)).toContain('declines.rate');

    const upstream = JSON.stringify([...sim.tms.events.values()]);
    expect(upstream).not.toContain('******');
    for (const card of TEST_CARDS) expect(upstream).not.toContain(card.pan);
  });
});
