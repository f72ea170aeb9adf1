import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardByName } from '../../sim/cards.js';
import { workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { decipherPinBlock4 } from '../../sim/crypto/pin-block-4.js';
import { TEST_BDK } from '../../sim/crypto/test-keys.js';
import type { IsoMessage } from '../../sim/host/host-sim.js';
import { Simulator } from '../../sim/index.js';
import { cardNeedles, scanForCardData } from '../support/leak-scan.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * The PIN step end to end: the built terminal, the simulated reader on a real pty and the
 * simulated host on loopback TCP, each written from the protocol documents. Default CVM
 * limits (1000.00 CNY per entry mode), no PIN bypass, 3 PIN tries.
 */
describe('PIN above the CVM limit, end to end', () => {
  let sim: Simulator;
  let terminal: TerminalProcess;
  let dataDir: string;
  const requests: IsoMessage[] = [];
  const receipts: Buffer[] = [];

  beforeAll(async () => {
    sim = await Simulator.start({ tapDelayMs: 10 });
    sim.host.onRequest((msg) => {
      if (msg.mti === '0200') requests.push(msg);
    });
    sim.printer.on('receipt', (r: { text: string }) => receipts.push(Buffer.from(r.text)));
    const cfg = writeSimConfig(sim, { log: { level: 'trace', target: 'file' } });
    dataDir = cfg.dataDir;
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready \[host online/, 30_000);
  }, 60_000);

  afterAll(async () => {
    if (terminal && terminal.child.exitCode === null) await terminal.kill();
    await sim?.stop();
  });

  /** Rings up `amount` with `card` and returns what the console printed for this sale. */
  async function sale(amount: string, card: string): Promise<string> {
    sim.reader.presentCard(card);
    const from = terminal.stdout.length;
    terminal.type(amount);
    await terminal.waitFor(/(?:APPROVED|DECLINED|CANCELLED|Error)[^\n]*\n(?:[^\n]*\n)*?> $/, 60_000, from);
    return terminal.stdout.slice(from);
  }

  const pinCommands = () => sim.reader.received.filter((f) => f.command === 'PIN').length;
  const row = (sql: string, ...args: unknown[]) => {
    const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true });
    try {
      return db.prepare(sql).get(...args) as Record<string, unknown>;
    } finally {
      db.close();
    }
  };
  const stanOf = (msg: IsoMessage) => String(msg.fields.get(11));
  const pinOf = (msg: IsoMessage, pan: string) => {
    const block = msg.fields.get(52);
    const ksn = msg.fields.get(53);
    if (!Buffer.isBuffer(block) || !Buffer.isBuffer(ksn)) return undefined;
    return decipherPinBlock4(workingKeyFromBdk(TEST_BDK, ksn, 'pinEncryption'), block, pan);
  };

  it('a contactless sale at the limit is approved without a PIN: no PIN step, no field 52', async () => {
    const pins = pinCommands();
    const sent = requests.length;
    const out = await sale('1000.00', 'mc-contactless');
    expect(out).toMatch(/APPROVED auth \S+ RRN \d{12} STAN (\d{6})/);
    expect(out).not.toContain('Customer entering PIN');
    expect(pinCommands()).toBe(pins);
    const request = requests[sent]!;
    expect(request.fields.has(52) || request.fields.has(53)).toBe(false);
    expect(request.fields.get(22)).toBe('071');
    expect(row('SELECT pin_verified FROM transactions WHERE stan = ?', stanOf(request))).toEqual({ pin_verified: 0 });
  });

  it('one unit over the limit the cardholder enters the PIN: fields 52 and 53 carry it, the host verifies it, the journal and slip say PIN verified', async () => {
    const sent = requests.length;
    const slips = receipts.length;
    const out = await sale('1000.01', 'mc-contactless');
    expect(out).toContain('Customer entering PIN...');
    expect(out).toMatch(/APPROVED auth/);
    const request = requests[sent]!;
    const block = request.fields.get(52) as Buffer;
    expect(block).toHaveLength(16);
    // Exactly what the reader enciphered, forwarded unchanged, under the KSN it travelled with.
    const last = sim.reader.pinBlocksSent.at(-1)!;
    expect(block.equals(last.block)).toBe(true);
    expect((request.fields.get(53) as Buffer).equals(last.ksn)).toBe(true);
    expect(pinOf(request, cardByName('mc-contactless').pan)).toBe('1234');
    expect(sim.host.ledger.get('TERM0001', stanOf(request))).toMatchObject({ status: 'posted', responseCode: '00' });
    expect(row('SELECT state, pin_verified FROM transactions WHERE stan = ?', stanOf(request))).toEqual({
      state: 'approved',
      pin_verified: 1,
    });
    await terminal.waitFor(/Receipt printed\./, 20_000, terminal.stdout.length - out.length);
    expect(receipts.slice(slips).some((r) => r.toString().includes('PIN VERIFIED'))).toBe(true);
  });

  it('a wrong PIN is answered 55 and asked again; the right PIN then approves, each try its own 0200 and STAN', async () => {
    sim.reader.enterPin('9999');
    sim.reader.enterPin('1234');
    const sent = requests.length;
    const out = await sale('1500.00', 'visa-chip');
    expect(out.match(/Customer entering PIN\.\.\./g)).toHaveLength(2);
    expect(out).toMatch(/APPROVED auth/);
    const [wrong, right] = requests.slice(sent);
    expect(requests.length - sent).toBe(2);
    expect(stanOf(wrong!)).not.toBe(stanOf(right!));
    expect(pinOf(wrong!, cardByName('visa-chip').pan)).toBe('9999');
    expect(sim.host.ledger.get('TERM0001', stanOf(wrong!))).toMatchObject({ status: 'declined', responseCode: '55' });
    expect(sim.host.ledger.get('TERM0001', stanOf(right!))).toMatchObject({ status: 'posted', responseCode: '00' });
    expect(row('SELECT state, decline_code FROM transactions WHERE stan = ?', stanOf(wrong!))).toEqual({
      state: 'declined',
      decline_code: '55',
    });
    expect(row('SELECT state, pin_verified FROM transactions WHERE stan = ?', stanOf(right!))).toEqual({
      state: 'approved',
      pin_verified: 1,
    });
  });

  it('a card that asks for a PIN at every amount: three wrong PINs end in 75, PIN tries exceeded, and no fourth try', async () => {
    for (let i = 0; i < 3; i++) sim.reader.enterPin('4321');
    const sent = requests.length;
    const out = await sale('20.00', 'unionpay-debit');
    expect(out.match(/Customer entering PIN\.\.\./g)).toHaveLength(3);
    expect(out).toMatch(/DECLINED: PIN tries exceeded/);
    const tries = requests.slice(sent);
    expect(tries.map((m) => sim.host.ledger.get('TERM0001', stanOf(m))?.responseCode)).toEqual(['55', '55', '75']);
    expect(row('SELECT state, decline_code FROM transactions WHERE stan = ?', stanOf(tries[2]!))).toEqual({
      state: 'declined',
      decline_code: '75',
    });
  });

  it('with the host down a sale over the limit is declined locally for its PIN, without asking for one or sending anything', async () => {
    await sim.host.stop();
    for (let i = 0; i < 100 && !/host (?:offline|degraded)/.test(await statusLine()); i++) await new Promise((r) => setTimeout(r, 100));
    const pins = pinCommands();
    const sent = requests.length;
    const out = await sale('1200.00', 'mc-contactless');
    expect(out).toMatch(/DECLINED: Offline: PIN needs the host/);
    expect(pinCommands()).toBe(pins);
    expect(requests.length).toBe(sent);
    expect(row(`SELECT state, decline_code FROM transactions ORDER BY id DESC LIMIT 1`)).toEqual({
      state: 'declined_local',
      decline_code: 'OFFLINE_PIN_REQUIRED',
    });
    expect(row(`SELECT count(*) AS n FROM saf_queue`)).toEqual({ n: 0 });
    await sim.host.start();
  });

  it('no PIN, PIN block, KSN of a PIN block, key or PAN is in the log, the database or a slip', async () => {
    expect(sim.reader.pinBlocksSent.length).toBeGreaterThanOrEqual(6);
    const { leaks, scanned } = scanForCardData(
      [
        { path: dataDir },
        ...receipts.map((bytes, i) => ({ name: `receipt ${i}`, bytes })),
        { name: 'console', bytes: terminal.stdout + terminal.stderr },
      ],
      cardNeedles(['1234', '9999', '4321'], sim.reader.pinBlocksSent),
    );
    expect(scanned.some((f) => f.endsWith('pos-companion.log'))).toBe(true);
    expect(leaks).toEqual([]);
  });

  async function statusLine(): Promise<string> {
    const from = terminal.stdout.length;
    terminal.type('status');
    return (await terminal.waitFor(/\[host [^\]]*\]/, 5000, from))[0];
  }
});
