import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The fault matrix, one row per fault, each against the built process over real ptys and
 * loopback TCP/HTTP, asserting what the cashier sees and what the host ends up holding.
 * Rows covered elsewhere are listed in docs/reliability.md with their tests.
 */

const RESPONSE_TIMEOUT_MS = 3_000;

describe('fault matrix, end to end', () => {
  let sim: Simulator;
  let terminal: TerminalProcess;
  let dbFile: string;

  function query<T>(sql: string, ...args: unknown[]): T[] {
    const db = new Database(dbFile, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...args) as T[];
    } finally {
      db.close();
    }
  }

  async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout:\n${terminal.stdout.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Rings up a sale and returns everything the console printed for it, up to the next prompt. */
  async function sale(amount: string, timeoutMs = 45_000): Promise<{ text: string; stan: string | undefined }> {
    const from = terminal.stdout.length;
    terminal.type(amount);
    await terminal.waitFor(/(?:APPROVED|DECLINED|NOT COMPLETED|Error)[^\n]*\n(?:[^\n]*\n)*?> $/, timeoutMs, from);
    const text = terminal.stdout.slice(from);
    return { text, stan: text.match(/STAN (\d{6})/)?.[1] };
  }

  async function status(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const from = terminal.stdout.length;
      terminal.type('status');
      const [line] = await terminal.waitFor(/\[host [^\]]*\]/, 10_000, from);
      if (pattern.test(line)) return;
      if (Date.now() > deadline) throw new Error(`status never matched ${pattern}; last: ${line}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const stateOf = (stan: string) => query<{ state: string }>(`SELECT state FROM transactions WHERE stan = ?`, stan)[0]?.state;
  const hostHas = (stan: string) => sim.host.ledger.get('TERM0001', stan);

  beforeAll(async () => {
    sim = await Simulator.start({ tapDelayMs: 10 });
    const cfg = writeSimConfig(sim, {
      host: {
        responseTimeoutMs: RESPONSE_TIMEOUT_MS,
        reconnectMinMs: 100,
        reconnectMaxMs: 500,
        reversalTimeoutMs: 3_000,
        reversalBackoffMinMs: 200,
        reversalBackoffMaxMs: 1_000,
      },
      printer: { statusTimeoutMs: 1_500, pollIntervalMs: 200 },
      saf: { backoffMinMs: 200, backoffMaxMs: 1_000 },
      tms: { url: sim.tms.url, retryMinMs: 200, retryMaxMs: 1_000, pollMs: 500, requestTimeoutMs: 2_000 },
      log: { level: 'info' },
    });
    dbFile = join(cfg.dataDir, 'pos-companion.db');
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready/, 30_000);
    await status(/host online/);
  }, 60_000);

  afterAll(async () => {
    if (terminal.child.exitCode === null && terminal.child.signalCode === null) {
      terminal.type('q');
      await terminal.exit();
    }
    // Whatever the rows did, the journal and the host ledger agree at the end.
    const journal = query<JournalRecord>(`SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id`);
    await sim.stop();
    expect(reconcile(journal, sim.host.ledger.all(), 'TERM0001').mismatches).toEqual([]);
  }, 60_000);

  it('host refuses connections: the sale is approved offline within the floor limit, declined over it, and forwarded once the host is back', async () => {
    await sim.host.stop();
    await status(/host offline/);
    const small = await sale('12.00');
    expect(small.text).toMatch(/APPROVED OFFLINE auth Y1\d{4} STAN \d{6}/);
    expect((await sale('300.00')).text).toMatch(/DECLINED: Offline: amount over floor limit/);
    await sim.host.start();
    await until('the advice to reach the host', () => hostHas(small.stan!)?.status === 'posted');
    await until('the journal to say forwarded', () => stateOf(small.stan!) === 'forwarded_approved');
    expect(hostHas(small.stan!)).toMatchObject({ kind: 'advice', amount: 1200, receivedCount: 1 });
  });

  it('host slow past the response timeout: "Host did not answer - being reversed", a retry goes to the host; the late answer is ignored and nothing stays posted', async () => {
    await status(/host online/);
    sim.host.queue({ type: 'delay', ms: RESPONSE_TIMEOUT_MS + 2_000 });
    const r = await sale('21.00');
    expect(r.text).toMatch(/DECLINED: Host did not answer - being reversed/);
    expect(r.text).toMatch(/What to do: The sale is being reversed; until the host confirms, the customer may see a temporary hold\./);
    // The host kept answering the echoes while it sat on the 0200: the link is alive, a retry goes online.
    expect(r.text).toMatch(/Retry: the host is answering; ringing it again sends a new sale to the host/);
    expect(r.text).not.toMatch(/not charged/i);
    await until('the reversal to be acknowledged', () => stateOf(r.stan!) === 'reversed');
    await until('the late 0200 to be processed by the host', () => hostHas(r.stan!) !== undefined, 15_000);
    expect(hostHas(r.stan!)?.status).not.toBe('posted');
  });

  it('response lost: the host posted it, the terminal reverses it', async () => {
    await status(/host online/);
    sim.host.queue({ type: 'drop' });
    const r = await sale('22.00');
    expect(r.text).toMatch(/DECLINED: Host did not answer - being reversed/);
    await until('the host to hold it reversed', () => hostHas(r.stan!)?.status === 'reversed');
    await until('the journal to say reversed', () => stateOf(r.stan!) === 'reversed');
  });

  it('socket closed mid-frame: a timeout decline, the link reconnects, the reversal goes over the new connection', async () => {
    await status(/host online/);
    sim.host.queue({ type: 'close-mid-frame' });
    const r = await sale('23.00');
    expect(r.text).toMatch(/DECLINED: Host did not answer - being reversed/);
    await until('the host to hold it reversed', () => hostHas(r.stan!)?.status === 'reversed');
    await status(/host online/);
    expect((await sale('23.01')).text).toMatch(/APPROVED auth/);
  });

  it('duplicate response: one approval on screen, one posting at the host', async () => {
    await status(/host online/);
    sim.host.queue({ type: 'duplicate' });
    const r = await sale('24.00');
    expect(r.text).toMatch(/APPROVED auth A\d{5} RRN \d{12} STAN \d{6}/);
    expect(r.text.match(/APPROVED/g)).toHaveLength(1);
    expect(hostHas(r.stan!)).toMatchObject({ status: 'posted', receivedCount: 1 });
    expect(stateOf(r.stan!)).toBe('approved');
  });

  it('garbage frame before the answer: dropped, the sale is approved', async () => {
    sim.host.queue({ type: 'garbage' });
    const r = await sale('25.00');
    expect(r.text).toMatch(/APPROVED auth A\d{5}/);
    expect(hostHas(r.stan!)?.status).toBe('posted');
  });

  it('reader unplugged mid-READ: NOT COMPLETED, "Card reader disconnected", no host traffic, and the next sale works after the replug', async () => {
    const before = sim.host.received.length;
    sim.reader.presentNothing();
    const from = terminal.stdout.length;
    terminal.type('26.00');
    await terminal.waitFor(/Waiting for card\.\.\./, 15_000, from);
    await new Promise((r) => setTimeout(r, 200));
    await sim.unplugReader();
    await terminal.waitFor(/NOT COMPLETED: Card reader disconnected/, 30_000, from);
    expect(terminal.stdout.slice(from)).not.toMatch(/DECLINED/);
    await terminal.waitFor(/What to do: Check the reader cable, then retry\./, 5_000, from);
    expect(sim.host.received.slice(before).filter((r) => r.message.mti === '0200')).toEqual([]);
    await sim.replugReader();
    await status(/reader connected/, 60_000);
    expect((await sale('26.01')).text).toMatch(/APPROVED auth/);
  });

  it('corrupt serial frames both ways: retransmitted, the sale is approved', async () => {
    sim.reader.corruptAnswers(2);
    sim.reader.damageIncoming(1);
    const r = await sale('27.00');
    expect(r.text).toMatch(/APPROVED auth A\d{5}/);
  });

  it('printer cover open: the sale stands, "Receipt NOT printed: ... cover open", and the slip prints when the cover closes', async () => {
    const printed = sim.printer.receipts.length;
    sim.printer.setCoverOpen(true);
    const r = await sale('28.00');
    expect(r.text).toMatch(/APPROVED auth/);
    expect(r.text).toMatch(/Receipt NOT printed: [^\n]*cover open[^\n]*kept in the print queue/);
    sim.printer.setCoverOpen(false);
    await until('both slips to print', () => sim.printer.receipts.length >= printed + 2);
    expect(
      sim.printer.receipts
        .slice(printed)
        .map((p) => p.text)
        .join('\n'),
    ).toMatch(/CNY 28\.00/);
  });

  it('printer paper out: the sale stands, "paper out", the slips print after the refill', async () => {
    const printed = sim.printer.receipts.length;
    sim.printer.setPaperOut(true);
    const r = await sale('29.00');
    expect(r.text).toMatch(/APPROVED auth/);
    expect(r.text).toMatch(/Receipt NOT printed: [^\n]*paper out/);
    sim.printer.setPaperOut(false);
    await until('both slips to print', () => sim.printer.receipts.length >= printed + 2);
  });

  it('printer silent: the sale stands and the cashier is told the receipt did not print', async () => {
    const printed = sim.printer.receipts.length;
    sim.printer.silent = true;
    const r = await sale('30.00', 60_000);
    expect(r.text).toMatch(/APPROVED auth/);
    expect(r.text).toMatch(/Receipt NOT printed: /);
    sim.printer.silent = false;
    await until('the slips to print once the printer answers again', () => sim.printer.receipts.length >= printed + 1, 60_000);
  });

  it('TMS down: the decline is shown and kept in the outbox, and reaches the TMS once when it is back', async () => {
    await sim.tms.stop();
    sim.host.queue({ type: 'decline', code: '51' });
    const r = await sale('31.00');
    expect(r.text).toMatch(/DECLINED: Insufficient funds/);
    const uuid = query<{ uuid: string }>(`SELECT uuid FROM transactions WHERE stan = ?`, r.stan!)[0]!.uuid;
    expect(query<{ n: number }>(`SELECT count(*) AS n FROM outbox WHERE event_id = ?`, `decline:${uuid}`)[0]!.n).toBe(1);
    await new Promise((res) => setTimeout(res, 1_000));
    await sim.tms.start();
    const events = await sim.tms.waitFor((all) => all.some((e) => e.eventId === `decline:${uuid}`), 30_000);
    expect(events.filter((e) => e.eventId === `decline:${uuid}`)).toHaveLength(1);
  });
});
