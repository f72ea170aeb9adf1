import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../firmware-app/declines/catalog.js';
import { reconcile, type JournalRecord } from '../../firmware-app/reconcile/reconcile.js';
import { cardByName } from '../../sim/cards.js';
import { workingKeyFromBdk } from '../../sim/crypto/dukpt.js';
import { decipherPinBlock4 } from '../../sim/crypto/pin-block-4.js';
import { TEST_BDK } from '../../sim/crypto/test-keys.js';
import { encodeTlv } from '../../sim/emv/tlv.js';
import { decodeTlv } from '../../sim/emv/tlv.js';
import type { IsoMessage } from '../../sim/host/host-sim.js';
import { checkRequestMac } from '../../sim/host/message-mac.js';
import { Simulator } from '../../sim/index.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * Chip cards and MACed host messages, end to end: the built process against the simulator
 * over real ptys and TCP. The simulated card computes its cryptograms, the simulated issuer
 * verifies them and the MACs, and each story is told through the cashier console.
 */
function query<T>(dataDir: string, sql: string, ...args: unknown[]): T[] {
  const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tags = (field: unknown): Map<string, string> =>
  new Map(decodeTlv(field as Buffer).map((t) => [t.tag, t.value.toString('hex').toUpperCase()]));

describe('chip data and MACs end to end', () => {
  let sim: Simulator;
  let dataDir: string;
  let terminal: TerminalProcess;
  const slips: string[] = [];

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: { text: string }) => slips.push(r.text));
    const cfg = writeSimConfig(sim, { host: { reversalTimeoutMs: 2000, reversalBackoffMinMs: 200, reversalBackoffMaxMs: 1000 } });
    dataDir = cfg.dataDir;
    terminal = new TerminalProcess(['--config', cfg.configPath]);
    await terminal.waitFor(/pos-companion ready \[host online/, 30_000);
  });

  afterAll(async () => {
    if (terminal.child.exitCode === null) await terminal.kill();
    await sim.stop();
  });

  const requests = (mti: string): IsoMessage[] => sim.host.received.map((r) => r.message).filter((m) => m.mti === mti);

  /** Rings `amount` up with `card` and returns the console's result line and the 0200 it sent. */
  async function sale(
    card: string,
    amount: string,
    result: RegExp,
  ): Promise<{ line: RegExpMatchArray; request: IsoMessage; stan: string }> {
    const sent = requests('0200').length;
    const from = terminal.stdout.length;
    sim.reader.presentCard(card);
    terminal.type(amount);
    const line = await terminal.waitFor(result, 20_000, from);
    const request = requests('0200')[sent]!;
    return { line, request, stan: String(request.fields.get(11)) };
  }

  it('a chip sale carries field 55 and a MAC; the host verifies the cryptogram and the journal keeps only the allowed tags', async () => {
    const { request, stan } = await sale('visa-chip', '12.34', /APPROVED auth \S+ RRN \d{12} STAN \d{6}/);
    expect(String(request.fields.get(22))).toBe('051');
    const icc = tags(request.fields.get(55));
    for (const t of ['9F26', '9F27', '9F10', '9F37', '9F36', '95', '9A', '9C', '9F02', '5F2A', '82', '9F1A', '9F33', '84'])
      expect(icc.has(t), t).toBe(true);
    expect(icc.get('9F27')).toBe('80');
    expect(request.fields.get(62)).toHaveLength(12);
    expect(request.fields.has(53)).toBe(false);
    expect(request.fields.get(64)).toHaveLength(8);
    expect(sim.host.ledger.get('TERM0001', stan)).toMatchObject({ status: 'posted', cryptogram: 'verified' });
    const events = query<{ detail: string }>(
      dataDir,
      `SELECT e.detail FROM transaction_events e JOIN transactions t ON t.id = e.transaction_id WHERE t.stan = ?`,
      stan,
    )
      .map((e) => e.detail)
      .join('\n');
    expect(events).toContain(icc.get('9F26'));
    expect(events).toContain('"decision":"TC"');
    // The unpredictable number and the issuer application data stay out of the journal.
    expect(events).not.toContain(icc.get('9F37'));
    expect(events).not.toContain(icc.get('9F10'));
  });

  it('a contactless sale carries field 55 too', async () => {
    const { request, stan } = await sale('mc-contactless', '8.00', /APPROVED auth \S+ RRN \d{12} STAN \d{6}/);
    expect(String(request.fields.get(22))).toBe('071');
    expect(tags(request.fields.get(55)).get('84')).toBe('A0000000041010');
    expect(sim.host.ledger.get('TERM0001', stan)).toMatchObject({ status: 'posted', cryptogram: 'verified' });
  });

  it('a card that declines after the host approved: the cashier is told, a decline slip prints, the reversal is acknowledged and the ledger is clean', async () => {
    slips.length = 0;
    const { stan } = await sale('visa-chip-declines', '20.00', /DECLINED: Card declined after approval - reversed/);
    await until(
      'the reversal to be acknowledged',
      () => query<{ state: string }>(dataDir, `SELECT state FROM transactions WHERE stan = ?`, stan)[0]?.state === 'reversed',
    );
    expect(sim.host.ledger.get('TERM0001', stan)?.status).toBe('reversed');
    // The slip wraps long lines: compare without white space.
    const squash = (text: string) => text.replace(/\s+/g, '');
    // One decline slip, the customer's copy, with the catalog's words for the customer.
    const customerText = explain('CHIP_DECLINED_AFTER_APPROVAL').customer.en;
    await until('the decline slip', () => squash(slips.join('')).includes(squash(customerText)));
    expect(slips.join('\n')).not.toMatch(/APPROVED/);
    // Printed as the reversal starts: only an acknowledged reversal may tell the customer "not charged".
    expect(squash(slips.join(''))).not.toContain(squash('not charged'));
    expect(
      query<{ auth_code: string | null }>(dataDir, `SELECT auth_code FROM transactions WHERE stan = ?`, stan)[0]?.auth_code,
    ).toBeNull();
    const journal = query<JournalRecord>(dataDir, `SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id`);
    expect(reconcile(journal, sim.host.ledger.all(), 'TERM0001').mismatches).toEqual([]);
  });

  it('an issuer script in the 0210 reaches the card', async () => {
    const script = encodeTlv([
      {
        tag: '72',
        value: encodeTlv([
          { tag: '9F18', value: Buffer.from('00000022', 'hex') },
          { tag: '86', value: Buffer.from('84DA00CB0100', 'hex') },
        ]),
      },
    ]);
    sim.host.queueIssuerScript(script);
    await sale('visa-chip', '3.00', /APPROVED auth \S+ RRN \d{12} STAN \d{6}/);
    expect(sim.reader.chip.scriptsDelivered).toContain(script.toString('hex').toUpperCase());
  });

  it('a 0210 whose MAC was tampered with is not approved: reversed and alerted', async () => {
    sim.host.queue({ type: 'tamper', set: { 64: Buffer.alloc(8, 0xee) } });
    const { stan } = await sale('visa-chip', '15.00', /DECLINED: Host answer invalid - reversed, retry/);
    await until('the reversal', () => sim.host.ledger.get('TERM0001', stan)?.status === 'reversed');
    const alerts = query<{ key: string; severity: string }>(dataDir, `SELECT key, severity FROM alerts`);
    expect(alerts).toContainEqual({ key: `host-answer-invalid:0200:${stan}`, severity: 'critical' });
    expect(
      query<{ auth_code: string | null }>(dataDir, `SELECT auth_code FROM transactions WHERE stan = ?`, stan)[0]?.auth_code,
    ).toBeNull();
  });

  it('a chip sale over the CVM limit carries the PIN (52, 53), the ARQC (55) and a MAC (62, 64) together; a wrong PIN is tried again with a new ARQC, and the host verifies all three', async () => {
    sim.reader.enterPin('9999');
    sim.reader.enterPin('1234');
    const sent = requests('0200').length;
    const from = terminal.stdout.length;
    sim.reader.presentCard('visa-chip');
    terminal.type('1500.00');
    const [, stan] = await terminal.waitFor(/APPROVED auth \S+ RRN \d{12} STAN (\d{6})/, 20_000, from);
    expect(terminal.stdout.slice(from).match(/Customer entering PIN\.\.\./g)).toHaveLength(2);
    expect(requests('0200').length - sent).toBe(2);
    const [wrong, right] = requests('0200').slice(sent) as [IsoMessage, IsoMessage];
    const pan = cardByName('visa-chip').pan;
    const pinOf = (msg: IsoMessage) =>
      decipherPinBlock4(workingKeyFromBdk(TEST_BDK, msg.fields.get(53) as Buffer, 'pinEncryption'), msg.fields.get(52) as Buffer, pan);
    for (const [msg, pin] of [
      [wrong, '9999'],
      [right, '1234'],
    ] as const) {
      expect(pinOf(msg)).toBe(pin);
      expect(tags(msg.fields.get(55)).get('9F27')).toBe('80');
      // The PIN's KSN and the MAC's are two of the reader's KSNs, in two fields; the MAC covers the first.
      expect(msg.fields.get(62)).toHaveLength(12);
      expect((msg.fields.get(62) as Buffer).equals(msg.fields.get(53) as Buffer)).toBe(false);
      expect([...msg.fields.keys()].at(-1)).toBe(64);
      expect(checkRequestMac(msg)).toBe('valid');
    }
    // Each PIN try is its own sale with its own first cryptogram: the card's counter moved on.
    expect(tags(right.fields.get(55)).get('9F36')).not.toBe(tags(wrong.fields.get(55)).get('9F36'));
    expect(sim.host.ledger.get('TERM0001', String(wrong.fields.get(11)))).toMatchObject({
      status: 'declined',
      responseCode: '55',
      cryptogram: 'verified',
    });
    expect(sim.host.ledger.get('TERM0001', stan!)).toMatchObject({ status: 'posted', responseCode: '00', cryptogram: 'verified' });
    expect(query(dataDir, `SELECT state, pin_verified FROM transactions WHERE stan = ?`, stan)).toEqual([
      { state: 'approved', pin_verified: 1 },
    ]);
  });

  it('a chip sale approved offline is advised with the card’s TC, which the host verifies', async () => {
    await sim.host.stop();
    for (let i = 0; ; i++) {
      const from = terminal.stdout.length;
      terminal.type('status');
      const [line] = await terminal.waitFor(/\[host \w+/, 10_000, from);
      if (line.includes('offline')) break;
      if (i > 100) throw new Error('terminal never saw the host go down');
      await new Promise((r) => setTimeout(r, 100));
    }
    const from = terminal.stdout.length;
    sim.reader.presentCard('visa-chip');
    terminal.type('9.00');
    const [, stan] = await terminal.waitFor(/APPROVED OFFLINE auth \S+ STAN (\d{6})/, 20_000, from);
    await sim.host.start();
    await until('the advice', () => sim.host.ledger.get('TERM0001', stan!) !== undefined, 60_000);
    const advice = requests('0220').find((m) => m.fields.get(11) === stan)!;
    const icc = tags(advice.fields.get(55));
    expect(icc.get('9F27')).toBe('40');
    expect(sim.host.ledger.get('TERM0001', stan!)).toMatchObject({ kind: 'advice', status: 'posted', cryptogram: 'verified' });
  });
});
