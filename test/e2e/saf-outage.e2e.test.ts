import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { IsoMessage } from '../../firmware-app/host/iso8583/packager.js';
import { reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import { TEST_CARDS } from '../../sim/cards.js';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The outage story, end to end: the built process against the simulator over real ptys
 * and TCP. The host goes down, the shop keeps selling within the offline rules, the host
 * comes back, and the queue drains by itself: the host holds every offline sale exactly
 * once, even when the terminal is killed -9 in the middle of the drain.
 */

const FLOOR = 5_000;
const SALES = 50;

/** 50 mixed amounts, some over the floor limit; a few special cards at fixed positions. */
function plan(): { amount: number; card: string }[] {
  return Array.from({ length: SALES }, (_, i) => {
    const amount = 100 + ((i * 7919) % 9_000);
    const card = i === 7 ? 'mc-hotlisted' : i === 11 ? 'unionpay-swipe' : i % 3 === 0 ? 'mc-contactless' : 'visa-chip';
    return { amount: card === 'mc-hotlisted' || card === 'unionpay-swipe' ? 1_500 : amount, card };
  });
}

interface Row {
  id: number;
  uuid: string;
  state: string;
  amount: number;
  stan: string | null;
  decline_code: string | null;
  response_code: string | null;
  last4: string | null;
}

function query<T>(dataDir: string, sql: string, ...args: unknown[]): T[] {
  const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const text = (m: IsoMessage, n: number) => String(m.fields.get(n) ?? '');

describe('store-and-forward through a host outage', () => {
  let sim: Simulator | undefined;
  let terminal: TerminalProcess | undefined;

  afterEach(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await sim?.stop();
  });

  async function startTerminal(configPath: string): Promise<TerminalProcess> {
    const t = new TerminalProcess(['--config', configPath]);
    await t.waitFor(/pos-companion ready/, 30_000);
    return t;
  }

  async function waitHostOffline(t: TerminalProcess): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const from = t.stdout.length;
      t.type('status');
      const [line] = await t.waitFor(/\[host \w+/, 10_000, from);
      if (line.includes('offline')) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('terminal never saw the host go down');
  }

  /** Host down, 50 sales through the console, every one finished. Returns the plan. */
  async function sellThroughOutage(dataDir: string, t: TerminalProcess) {
    await sim!.host.stop();
    await waitHostOffline(t);
    const sales = plan();
    const receipts: string[] = [];
    sim!.printer.on('receipt', (r: { text: string }) => receipts.push(r.text));
    for (const s of sales) sim!.reader.presentCard(s.card);
    for (const s of sales) t.type((s.amount / 100).toFixed(2));
    await until(
      'all 50 sales to finish',
      () =>
        query<{ n: number }>(dataDir, `SELECT count(*) AS n FROM transactions WHERE state IN ('offline_approved', 'declined_local')`)[0]!
          .n === SALES,
      60_000,
    );
    const rows = query<Row>(dataDir, `SELECT * FROM transactions ORDER BY id`);
    expect(rows.map((r) => r.amount)).toEqual(sales.map((s) => s.amount));
    rows.forEach((r, i) => {
      const s = sales[i]!;
      const expected = s.card === 'unionpay-swipe' ? 'OFFLINE_ENTRY_MODE' : s.amount > FLOOR ? 'OFFLINE_FLOOR_LIMIT' : null;
      expect({ i, state: r.state, code: r.decline_code }).toEqual({
        i,
        state: expected ? 'declined_local' : 'offline_approved',
        code: expected,
      });
    });
    expect(sim!.host.ledger.all()).toEqual([]);
    const offline = rows.filter((r) => r.state === 'offline_approved');
    expect(offline.length).toBeGreaterThan(15);
    expect(rows.filter((r) => r.decline_code === 'OFFLINE_FLOOR_LIMIT').length).toBeGreaterThan(10);
    expect(query<{ n: number }>(dataDir, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`)[0]!.n).toBe(offline.length);
    expect(t.stdout).toMatch(/APPROVED OFFLINE auth Y1\d{4} STAN \d{6}/);
    expect(t.stdout).toMatch(/DECLINED: Offline: amount over floor limit/);
    await until('an offline receipt', () => receipts.some((r) => /OFFLINE/.test(r) && /APPROVED/.test(r)), 30_000);
    return { offline, hotListed: rows[7]! };
  }

  /** The host ledger against the terminal journal: each offline sale posted exactly once, nothing else but the refused advice, the merchant's loss. */
  function reconcileClean(dataDir: string, offline: Row[], hotListed: Row): void {
    const ledger = sim!.host.ledger.all();
    const journal = query<JournalRecord>(dataDir, `SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id`);
    const result = reconcile(journal, ledger, 'TERM0001');
    expect(result.checked).toBe(SALES);
    expect(result.mismatches.map((m) => [m.stan, m.kind, m.amount])).toEqual([[hotListed.stan, 'merchant-loss', hotListed.amount]]);
    expect(ledger.every((e) => e.kind === 'advice')).toBe(true);
    expect(ledger.map((e) => e.stan).sort()).toEqual(offline.map((r) => r.stan).sort());
    const final = new Map(query<Row>(dataDir, `SELECT * FROM transactions`).map((r) => [r.stan, r]));
    for (const o of offline) {
      const entry = sim!.host.ledger.get('TERM0001', o.stan!)!;
      expect(entry.amount).toBe(o.amount);
      const t = final.get(o.stan)!;
      if (o.id === hotListed.id) {
        expect(entry.status).toBe('declined');
        expect(t).toMatchObject({ state: 'forwarded_declined', response_code: '43' });
      } else {
        expect(entry.status).toBe('posted');
        expect(t.state).toBe('forwarded_approved');
      }
    }
    const expectedTotal = offline.filter((o) => o.id !== hotListed.id).reduce((s, o) => s + o.amount, 0);
    expect(sim!.host.ledger.totals()).toEqual({ count: offline.length - 1, amount: expectedTotal });
    expect(query<{ n: number }>(dataDir, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`)[0]!.n).toBe(0);
  }

  /** The declined advice: a merchant alert, one decline report upstream, and a row the technician can find. */
  function declinedAdviceIsVisible(dataDir: string, hotListed: Row): void {
    const alerts = query<{ key: string; severity: string; message: string; cleared_at: number | null }>(
      dataDir,
      `SELECT * FROM alerts WHERE key LIKE 'saf-declined:%'`,
    );
    expect(alerts).toEqual([expect.objectContaining({ key: `saf-declined:${hotListed.uuid}`, severity: 'critical', cleared_at: null })]);
    expect(alerts[0]!.message).toContain(`STAN ${hotListed.stan}`);
    const reports = query<{ event_id: string; payload: string }>(
      dataDir,
      `SELECT event_id, payload FROM outbox WHERE event_id = ?`,
      `decline:${hotListed.uuid}`,
    );
    expect(reports).toHaveLength(1);
    expect(JSON.parse(reports[0]!.payload)).toMatchObject({ state: 'forwarded_declined', code: '43', amount: hotListed.amount });
    expect(
      query<{ state: string; last_response_code: string }>(
        dataDir,
        `SELECT state, last_response_code FROM saf_queue WHERE transaction_id = ?`,
        hotListed.id,
      ),
    ).toEqual([{ state: 'declined', last_response_code: '43' }]);
  }

  function config() {
    return writeSimConfig(sim!, {
      jobs: { heartbeat: { cron: '* * * * * *' } },
      host: { reconnectMinMs: 100, reconnectMaxMs: 400 },
      offline: { floorLimit: FLOOR },
      saf: { responseTimeoutMs: 10_000, backoffMinMs: 200, backoffMaxMs: 1_000 },
    });
  }

  it('sells 50 times offline, then drains on its own: each offline sale on the host exactly once', async () => {
    sim = await Simulator.start({ tapDelayMs: 10 });
    const { configPath, dataDir } = config();
    terminal = await startTerminal(configPath);
    const { offline, hotListed } = await sellThroughOutage(dataDir, terminal);

    // The heartbeat carries the queue state upstream (written to the outbox; no TMS configured here).
    const offlineTotal = offline.reduce((sum, o) => sum + o.amount, 0);
    const heartbeatSaf = () =>
      query<{ payload: string }>(dataDir, `SELECT payload FROM outbox WHERE type = 'heartbeat' ORDER BY id DESC LIMIT 1`).map(
        (r) => (JSON.parse(r.payload) as { saf: { depth: number; totalAmountByCurrency: Record<string, number> } }).saf,
      )[0];
    await until('a heartbeat with the queue state', () => heartbeatSaf()?.depth === offline.length, 15_000);
    expect(heartbeatSaf()!.totalAmountByCurrency).toEqual({ CNY: offlineTotal });

    await sim.host.start();
    await until(
      'the queue to drain',
      () =>
        sim!.host.ledger.all().length === offline.length &&
        query<{ n: number }>(dataDir, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`)[0]!.n === 0,
      30_000,
    );

    reconcileClean(dataDir, offline, hotListed);
    const advices = sim.host.received.map((r) => r.message).filter((m) => m.mti === '0220' || m.mti === '0221');
    expect(advices.map((m) => m.mti)).toEqual(offline.map(() => '0220'));
    expect(advices.map((m) => text(m, 11))).toEqual(offline.map((o) => o.stan));
    expect(sim.host.ledger.all().every((e) => e.receivedCount === 1)).toBe(true);
    declinedAdviceIsVisible(dataDir, hotListed);

    terminal.type('q');
    expect(await terminal.exit()).toBe(0);
    for (const file of ['pos-companion.db', 'pos-companion.db-wal', 'pos-companion.log']) {
      if (!existsSync(join(dataDir, file))) continue;
      const bytes = readFileSync(join(dataDir, file));
      for (const card of TEST_CARDS) expect(bytes.includes(Buffer.from(card.pan))).toBe(false);
    }
  }, 120_000);

  it('is still exactly once when the terminal is killed -9 in the middle of the drain and restarted', async () => {
    sim = await Simulator.start({ tapDelayMs: 10 });
    const { configPath, dataDir } = config();
    terminal = await startTerminal(configPath);
    const { offline, hotListed } = await sellThroughOutage(dataDir, terminal);

    // Killed the instant the 10th advice reaches the host: the host posts it and answers a dead socket.
    const victim = terminal;
    let arrivals = 0;
    let killedStan = '';
    sim.host.onRequest((m) => {
      if (m.mti !== '0220' || victim.child.exitCode !== null) return;
      if (++arrivals === 10) {
        killedStan = text(m, 11);
        victim.child.kill('SIGKILL');
      }
    });
    await sim.host.start();
    expect(await victim.exit()).toBeNull();
    expect(killedStan).toBe(offline[9]!.stan);
    expect(
      query<{ state: string; sends: number }>(
        dataDir,
        `SELECT q.state, q.sends FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id WHERE t.stan = ?`,
        killedStan,
      ),
    ).toEqual([{ state: 'queued', sends: 1 }]);
    // Counted ahead of their transmission in the commit before the killed one left, and never sent.
    const reachedHost = new Set(sim.host.received.map((r) => text(r.message, 11)));
    const countedAhead = query<{ stan: string }>(
      dataDir,
      `SELECT t.stan FROM saf_queue q JOIN transactions t ON t.id = q.transaction_id WHERE q.state = 'queued' AND q.sends = 1`,
    )
      .map((r) => r.stan)
      .filter((stan) => !reachedHost.has(stan));
    expect(countedAhead.length).toBeGreaterThan(0);

    terminal = await startTerminal(configPath);
    await until(
      'the queue to drain after the restart',
      () => query<{ n: number }>(dataDir, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`)[0]!.n === 0,
      30_000,
    );

    reconcileClean(dataDir, offline, hotListed);
    const advices = sim.host.received.map((r) => r.message).filter((m) => m.mti === '0220' || m.mti === '0221');
    const forKilled = advices.filter((m) => text(m, 11) === killedStan).map((m) => m.mti);
    expect(forKilled).toEqual(['0220', '0221']);
    expect(sim.host.ledger.get('TERM0001', killedStan)).toMatchObject({ status: 'posted', receivedCount: 2 });
    // Their first transmission is a repeat the host never saw as a 0220: posted once, as the advice.
    for (const stan of countedAhead) {
      expect(advices.filter((m) => text(m, 11) === stan).map((m) => m.mti)).toEqual(['0221']);
      expect(sim.host.ledger.get('TERM0001', stan)).toMatchObject({ kind: 'advice', receivedCount: 1 });
    }
    const first = advices.filter((m) => m.mti === '0220').map((m) => text(m, 11));
    expect(new Set(first).size).toBe(first.length);
    declinedAdviceIsVisible(dataDir, hotListed);
  }, 120_000);
});
