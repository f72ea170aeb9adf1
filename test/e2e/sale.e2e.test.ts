import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../sim/index.js';
import { TEST_CARDS } from '../../sim/cards.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The walking skeleton, end to end: the built process against the simulator over real
 * pseudo-terminals and a real TCP socket, driven through its console.
 */
describe('one sale end to end on the simulator', () => {
  let sim: Simulator;
  let dataDir: string;
  let terminal: TerminalProcess;
  const stateWhenHostReceived: (string | undefined)[] = [];

  beforeAll(async () => {
    sim = await Simulator.start();
    const cfg = writeSimConfig(sim);
    dataDir = cfg.dataDir;
    // The write-ahead proof: at the instant the 0200 reaches the host, read what the
    // terminal's database already holds for that STAN.
    sim.host.onRequest((msg) => {
      if (msg.mti !== '0200') return;
      const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true, fileMustExist: true });
      try {
        const row = db
          .prepare<[string], { state: string }>('SELECT state FROM transactions WHERE stan = ?')
          .get(String(msg.fields.get(11)));
        stateWhenHostReceived.push(row?.state);
      } finally {
        db.close();
      }
    });
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready \[host online \| reader connected \| printer ready\]/);
  });

  afterAll(async () => {
    if (terminal.child.exitCode === null) await terminal.kill();
    await sim.stop();
  });

  it('approves a sale, prints the receipt with last four only, and records it in journal and host ledger', async () => {
    const receipt = new Promise<{ text: string }>((resolve) => sim.printer.once('receipt', resolve));
    terminal.type('12.34');
    const m = await terminal.waitFor(/APPROVED auth (\S+) RRN (\d{12}) STAN (\d{6})/);
    await terminal.waitFor(/Receipt printed\./);
    const [, auth, rrn, stan] = m;

    const printed = (await receipt).text;
    expect(printed).toContain('APPROVED');
    expect(printed).toContain('CNY 12.34');
    expect(printed).toContain('**** **** **** 1111');
    expect(printed).toMatch(new RegExp(`AUTH NO\\.\\s+${auth}`));
    expect(printed).toMatch(new RegExp(`REF NO\\.\\s+${rrn}`));
    for (const card of TEST_CARDS) {
      expect(printed).not.toContain(card.pan);
      expect(printed).not.toContain(card.pan.slice(0, 6));
    }

    const posting = sim.host.ledger.get('TERM0001', stan!);
    expect(posting).toMatchObject({ status: 'posted', amount: 1234, currency: '156', authCode: auth, rrn, last4: '1111' });

    terminal.type('q');
    expect(await terminal.exit()).toBe(0);

    const dbFile = join(dataDir, 'pos-companion.db');
    expect(statSync(dbFile).mode & 0o777).toBe(0o600);
    const db = new Database(dbFile, { readonly: true });
    try {
      const txn = db.prepare('SELECT * FROM transactions WHERE stan = ?').get(stan) as Record<string, unknown>;
      expect(txn).toMatchObject({
        type: 'sale',
        state: 'approved',
        amount: 1234,
        currency: 'CNY',
        auth_code: auth,
        rrn,
        last4: '1111',
        response_code: '00',
      });
      expect(txn.masked_pan).toBe('411111******1111');
      const events = db.prepare('SELECT to_state FROM transaction_events WHERE transaction_id = ? ORDER BY id').all(txn.id) as {
        to_state: string;
      }[];
      expect(events.map((e) => e.to_state)).toEqual(['created', 'card_read', 'online_sent', 'approved']);
    } finally {
      db.close();
    }
  });

  it('had committed online_sent before the host received the 0200 (write-ahead rule)', () => {
    expect(stateWhenHostReceived).toEqual(['online_sent']);
  });

  it('leaves no clear PAN in the database, its WAL or the log', () => {
    for (const file of ['pos-companion.db', 'pos-companion.db-wal', 'pos-companion.log']) {
      const path = join(dataDir, file);
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      for (const card of TEST_CARDS) expect(bytes.includes(Buffer.from(card.pan))).toBe(false);
    }
  });
});
