import { copyFileSync, existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPin } from '../../firmware-app/ui/diagnostics/pin.js';
import { TEST_CARDS } from '../../sim/cards.js';
import { Simulator } from '../../sim/index.js';
import { cardNeedles, scanForCardData, type Artefact } from '../support/leak-scan.js';
import { TerminalProcess, writeSimConfig } from '../support/terminal-process.js';

/**
 * Card-data leak scan: an end-to-end run touching every card of the simulator's deck
 * (approved, declined, hot-listed, unreadable, offline and forwarded, reversed, chip sales
 * with field 55, MACs and a card that declines after approval), a
 * technician session over the control socket (card-read test, queues, logs, backup,
 * diagnostics bundle), then every artefact it left is searched for every test PAN, track
 * data, the PINs, every PIN block and its KSN, and the reader's and cards' keys (MAC and chip keys included): log files, database with WAL and backups, receipts (text and raw
 * ESC/POS bytes), TMS events, the bundle, the control-socket traffic and the console.
 */

const TECH_PIN = '739154';
/** The deck's cardholder PIN, and a wrong one typed before it. */
const CARD_PINS = ['1234', '8642'] as const;
const WRONG_PIN = CARD_PINS[1];

/** A request/answer conversation over the control socket, every byte kept. */
async function controlSession(socketPath: string, calls: [string, unknown[]][]): Promise<{ raw: string; results: Map<string, unknown> }> {
  const socket = createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let raw = '';
  const results = new Map<string, unknown>();
  const waiting = new Map<number, (m: { result?: unknown; error?: unknown }) => void>();
  socket.on('data', (d: Buffer) => {
    raw += d.toString();
    for (const line of d.toString().split('\n')) {
      if (!line.trim()) continue;
      const m = JSON.parse(line) as { id: number; result?: unknown; error?: unknown; progress?: unknown };
      if ('progress' in m) continue;
      waiting.get(m.id)?.(m);
    }
  });
  let id = 0;
  for (const [method, params] of calls) {
    const n = ++id;
    const answer = await new Promise<{ result?: unknown; error?: unknown }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`control ${method}: no answer`)), 30_000);
      waiting.set(n, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.write(`${JSON.stringify({ id: n, method, params })}\n`);
    });
    if (answer.error) throw new Error(`control ${method}: ${JSON.stringify(answer.error)}`);
    results.set(method, answer.result);
  }
  socket.end();
  return { raw, results };
}

describe('card-data leak scan of every artefact', () => {
  it('the scanner itself finds a planted PAN, track data and PIN in text and binary artefacts, and passes clean ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pos-leak-self-'));
    const db = new Database(join(dir, 'planted.db'));
    db.exec(`CREATE TABLE t (x)`);
    db.prepare(`INSERT INTO t VALUES (?)`).run(Buffer.from('4111111111111111D2812', 'hex'));
    db.close();
    writeFileSync(join(dir, 'app.log'), `{"level":30,"msg":"card","data":"5555555555554444"}\n`);
    writeFileSync(
      join(dir, 'clean.log'),
      `{"level":30,"time":1763892345678,"masked":"411111******1111","stan":"000123","rrn":"000000000042"}\n`,
    );
    const needles = cardNeedles(['8642']);
    const found = (a: Artefact[]) => scanForCardData(a, needles).leaks.map((l) => l.label);
    expect(found([{ path: join(dir, 'app.log') }])).toContain('PAN mc-contactless');
    expect(found([{ path: join(dir, 'planted.db') }])).toContain('track 2 visa-chip (BCD)');
    expect(found([{ name: 'receipt', bytes: 'CARD ;6250941006528599=2710?' }])).toEqual(
      expect.arrayContaining(['PAN unionpay-swipe', 'track 2 unionpay-swipe', 'track-2-like data']),
    );
    expect(found([{ name: 'track 1', bytes: '%B4000056655665556^DOE/JANE^2301' }])).toContain('track 1 visa-expired');
    expect(found([{ name: 'event', bytes: '{"pin":"8642"}' }])).toEqual(['PIN next to "pin"']);
    expect(found([{ name: 'pin block', bytes: Buffer.from('048642FFFFFFFFFF', 'hex') }])).toEqual(['PIN field (ISO 9564 format 0)']);
    expect(found([{ name: 'pin field 4', bytes: Buffer.from('448642AAAAAAAAAA', 'hex') }])).toEqual(['PIN field (ISO 9564 format 4)']);
    const sent = { block: Buffer.from('64CE3DD1385615AC87B5295121C42BA5', 'hex'), ksn: Buffer.from('123456789012345600000003', 'hex') };
    const fields = '{"f52":"64ce3dd1385615ac87b5295121c42ba5","f53":"EjRWeJASNFYAAAAD"}';
    expect(scanForCardData([{ name: 'log', bytes: fields }], cardNeedles([], [sent])).leaks.map((l) => l.label)).toEqual([
      'PIN block 1 (hex)',
      'PIN block 1 KSN (base64)',
    ]);
    expect(found([{ name: 'key dump', bytes: 'bdk=FEDCBA9876543210F1F1F1F1F1F1F1F1 k=a35c412efd41fdb98b69797c02dcd08f' }])).toEqual([
      'BDK (HEX)',
      'data key 1 (hex)',
    ]);
    // The chip and MAC keys stay in the card and the reader: the issuer key, a card's chip key, a reader MAC key.
    expect(
      found([
        { name: 'chip keys', bytes: '404142434445464748494a4b4c4d4e4f fc131a78bae849f7ee7f612542bbfc06 484C3B06E8562704528CD5B46FB12FB6' },
      ]),
    ).toEqual(['issuer chip master key (hex)', 'chip key visa-chip (hex)', 'MAC key 2 (HEX)']);
    // A card number not in the deck is still caught by its shape.
    expect(found([{ name: 'other card', bytes: 'pan 378282246310005 here' }])).toEqual(['card-number-like digits']);
    expect(found([{ path: join(dir, 'clean.log') }])).toEqual([]);
  });

  describe('after an end-to-end run', () => {
    let sim: Simulator;
    let terminal: TerminalProcess;
    let dataDir: string;
    /** The database files while the terminal was running: the WAL is gone after a clean stop. */
    let live: string;
    let control: { raw: string; results: Map<string, unknown> };
    const receipts: Buffer[] = [];

    beforeAll(async () => {
      sim = await Simulator.start({ tapDelayMs: 10 });
      sim.printer.on('receipt', (r: { text: string; raw?: Buffer }) => receipts.push(Buffer.from(r.text), ...(r.raw ? [r.raw] : [])));
      const cfg = writeSimConfig(sim, {
        host: {
          responseTimeoutMs: 2_000,
          reconnectMinMs: 100,
          reconnectMaxMs: 400,
          reversalBackoffMinMs: 200,
          reversalBackoffMaxMs: 1_000,
        },
        saf: { backoffMinMs: 200, backoffMaxMs: 1_000 },
        tms: { url: sim.tms.url, retryMinMs: 200, pollMs: 500 },
        diagnostics: { pinHash: hashPin(TECH_PIN) },
        log: { level: 'trace' },
      });
      dataDir = cfg.dataDir;
      terminal = new TerminalProcess(['--config', cfg.configPath]);
      await terminal.waitFor(/pos-companion ready/, 30_000);

      const sale = async (amount: string, card?: string) => {
        if (card) sim.reader.presentCard(card);
        const from = terminal.stdout.length;
        terminal.type(amount);
        await terminal.waitFor(/(?:APPROVED|DECLINED|NOT COMPLETED|Error)[^\n]*\n(?:[^\n]*\n)*?> $/, 30_000, from);
      };
      for (const card of TEST_CARDS) await sale('15.00', card.name);
      // Over the CVM limit: a wrong PIN, then the right one, each block under its own KSN.
      sim.reader.enterPin(WRONG_PIN);
      await sale('1500.00', 'visa-chip');
      sim.host.queue({ type: 'decline', code: '51' });
      await sale('16.00');
      sim.host.queue({ type: 'drop' });
      await sale('17.00');
      await sim.host.stop();
      await sale('18.00', 'mc-contactless');
      await sale('19.00', 'mc-hotlisted');
      await sim.host.start();
      const settled = () => {
        const db = new Database(join(dataDir, 'pos-companion.db'), { readonly: true });
        try {
          return (
            (
              db
                .prepare(
                  `SELECT (SELECT count(*) FROM saf_queue WHERE state = 'queued') + (SELECT count(*) FROM reversals WHERE state = 'pending') AS n`,
                )
                .get() as { n: number }
            ).n === 0
          );
        } finally {
          db.close();
        }
      };
      for (let i = 0; i < 300 && !settled(); i++) await new Promise((r) => setTimeout(r, 100));
      await sim.tms.waitFor((events) => events.some((e) => e.type === 'decline'), 20_000);

      sim.reader.presentCard('visa-chip');
      control = await controlSession(join(dataDir, 'control.sock'), [
        ['login', [TECH_PIN]],
        ['deviceInfo', []],
        ['status', []],
        ['cardReadTest', []],
        ['testPrint', []],
        ['hostEcho', []],
        ['queues', []],
        ['declineStats', []],
        ['alerts', []],
        ['jobs', []],
        ['runJob', ['backup']],
        ['logTail', [500]],
        ['config', []],
        ['exportBundle', []],
        ['logout', []],
      ]);
      live = mkdtempSync(join(tmpdir(), 'pos-leak-live-'));
      for (const f of ['pos-companion.db', 'pos-companion.db-wal', 'pos-companion.db-shm']) copyFileSync(join(dataDir, f), join(live, f));
      terminal.type('q');
      await terminal.exit();
    }, 180_000);

    afterAll(async () => {
      if (terminal && terminal.child.exitCode === null && terminal.child.signalCode === null) await terminal.kill();
      await sim?.stop();
    });

    it('finds no test PAN, track data or PIN in any artefact, and each kind of artefact was really there', () => {
      const bundle = (control.results.get('exportBundle') as { path: string }).path;
      const backups = join(dataDir, 'backups');
      // The run produced what it should: otherwise a clean scan would prove nothing.
      expect(existsSync(bundle)).toBe(true);
      expect(readdirSync(backups).length).toBeGreaterThan(0);
      expect(readdirSync(dataDir)).toEqual(expect.arrayContaining(['pos-companion.db', 'pos-companion.log']));
      expect(receipts.length).toBeGreaterThan(10);
      expect(sim.tms.events.size).toBeGreaterThan(0);
      expect(control.raw).toMatch(/"result"/);
      // Chip data and MACs went through the run: field 55, a MAC, the issuer's answer and an advice's TC.
      const sent = sim.host.received.map((r) => r.message);
      expect(sent.some((m) => m.mti === '0200' && m.fields.has(55) && m.fields.has(64))).toBe(true);
      expect(sent.some((m) => m.mti === '0220' && m.fields.has(55))).toBe(true);
      expect(sim.host.ledger.all().some((e) => e.cryptogram === 'verified')).toBe(true);
      expect(String(JSON.stringify(control.results.get('cardReadTest')))).toMatch(/411111|1111/);

      const { scanned, leaks } = scanForCardData(
        [
          { path: dataDir },
          { path: live },
          ...(bundle.startsWith(dataDir) ? [] : [{ path: bundle }]),
          ...receipts.map((bytes, i) => ({ name: `receipt ${i}`, bytes })),
          { name: 'TMS events', bytes: JSON.stringify([...sim.tms.events.values()]) },
          { name: 'control socket', bytes: control.raw },
          { name: 'console stdout', bytes: terminal.stdout },
          { name: 'console stderr', bytes: terminal.stderr },
        ],
        cardNeedles([TECH_PIN, ...CARD_PINS], sim.reader.pinBlocksSent),
      );
      expect(sim.reader.pinBlocksSent.length).toBeGreaterThanOrEqual(3);
      expect(statSync(join(live, 'pos-companion.db-wal')).size).toBeGreaterThan(0);
      expect(
        scanned.filter((f) => /pos-companion\.db(-wal)?$|\.log$|diagnostics-.*\.json$|backups\/.*\.db$/.test(f)).length,
      ).toBeGreaterThanOrEqual(6);
      expect(leaks).toEqual([]);
    });

    it('would have failed: a PAN planted in a copy of the real database is found', () => {
      const copy = join(mkdtempSync(join(tmpdir(), 'pos-leak-plant-')), 'copy.db');
      copyFileSync(join(dataDir, 'pos-companion.db'), copy);
      const db = new Database(copy);
      db.prepare(`UPDATE transactions SET masked_pan = ? WHERE id = 1`).run(TEST_CARDS[0]!.pan);
      db.close();
      expect(scanForCardData([{ path: copy }]).leaks.map((l) => l.label)).toContain('PAN visa-chip');
    });
  });
});
