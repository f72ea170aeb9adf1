import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { runPrompt } from '../../firmware-app/ui/prompt.js';
import { Simulator } from '../../sim/index.js';

/**
 * Disk full and read-only database: the terminal in-process against the simulator (real
 * ptys, real TCP, a real SQLite file), driven through the same console the built process
 * runs on a pipe. The fault is made by SQLite itself on the terminal's own connection:
 * `PRAGMA max_page_count` at the current size makes every growth fail with SQLITE_FULL
 * (what a full disk gives), `PRAGMA query_only` makes every write fail with SQLITE_READONLY
 * (what a read-only file system or file gives). The tests run as root, where file modes
 * stop no write, and remounting needs privileges CI may not have (docs/reliability.md).
 */

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('storage faults: disk full, database read-only', () => {
  let sim: Simulator | undefined;
  let terminal: App | undefined;
  let input: PassThrough | undefined;
  let prompt: Promise<void> | undefined;

  afterEach(async () => {
    input?.end();
    await prompt;
    await terminal?.stop();
    await sim?.stop();
    sim = undefined;
    terminal = undefined;
  });

  async function start() {
    sim = await Simulator.start({ tapDelayMs: 10 });
    const ep = sim.endpoints;
    const config = parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'pos-storage-')),
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000 },
      // Background writers run often, so the fault meets them too (echo STANs, alert evaluation).
      host: {
        address: ep.hostAddress,
        port: ep.hostPort,
        responseTimeoutMs: 3000,
        reconnectMinMs: 100,
        reconnectMaxMs: 300,
        echoIntervalMs: 300,
      },
      alerts: { evaluateEveryMs: 300 },
      saf: { backoffMinMs: 100, backoffMaxMs: 500 },
      log: { level: 'silent', target: 'stdout' },
    });
    const t = compose(config, { logger: silentLogger });
    terminal = t;
    await t.start();
    const inStream = new PassThrough();
    const out = new PassThrough();
    let screen = '';
    out.on('data', (d: Buffer) => {
      screen += d.toString();
    });
    input = inStream;
    prompt = runPrompt(t.terminal, inStream, out);
    await until('the prompt', () => screen.includes('pos-companion ready'));
    /** Types a line and resolves with what the console printed up to the next prompt. */
    const type = async (line: string): Promise<string> => {
      const from = screen.length;
      inStream.write(`${line}\n`);
      await until(`the answer to "${line}"`, () => /\n> $/.test(screen.slice(from)));
      return screen.slice(from);
    };
    return { t, type, sim };
  }

  const count = (t: App, sql: string) => (t.db.prepare(sql).get() as { n: number }).n;

  /** Host down, one offline sale: queued work that must survive the fault. */
  async function queueOfflineSale(t: App, type: (l: string) => Promise<string>, s: Simulator): Promise<void> {
    await s.host.stop();
    await until('the link to go offline', () => t.link.state === 'offline');
    expect(await type('12.00')).toMatch(/APPROVED OFFLINE auth Y1\d{4} STAN \d{6}/);
    expect(count(t, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`)).toBe(1);
  }

  it('disk full: the sale is refused before the card is read, queued work is kept, the process keeps running and recovers when space returns', async () => {
    const { t, type, sim: s } = await start();
    await queueOfflineSale(t, type, s);
    const transactions = count(t, `SELECT count(*) AS n FROM transactions`);
    let reads = 0;
    s.reader.on('card-read', () => reads++);

    const pages = Number(t.db.pragma('page_count', { simple: true }));
    t.db.pragma(`max_page_count = ${pages}`);
    const refused = await type('8.00');
    expect(refused).toMatch(
      /Error: Payment refused: the terminal storage is full, so the payment cannot be recorded\. Nothing was charged; queued payments are kept\. Call a technician\./,
    );
    expect(refused).not.toMatch(/Waiting for card/);
    expect(reads).toBe(0);
    // Real SQLITE_FULL on the file: nothing can grow it now. A megabyte, more than the few free
    // pages a migration that drops an index leaves behind; rolled back whatever happens.
    const fill = t.db.transaction(() => {
      t.db.exec(`CREATE TABLE filler (x)`);
      t.db.prepare(`INSERT INTO filler VALUES (zeroblob(1048576))`).run();
    });
    expect(() => fill()).toThrow(expect.objectContaining({ code: 'SQLITE_FULL' }));

    // Still running: the console answers, background jobs meet the fault without crashing, the queue is intact.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await type('status')).toMatch(/\[host offline \| reader connected \| printer ready\]/);
    expect(count(t, `SELECT count(*) AS n FROM transactions`)).toBe(transactions);
    expect(count(t, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`)).toBe(1);

    // Space returns: the next sale goes through, and the queued offline sale is forwarded.
    t.db.pragma('max_page_count = 1073741823');
    await s.host.start();
    await until('the link to come back', () => t.link.state === 'online');
    await until('the queue to drain', () => count(t, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`) === 0);
    expect(await type('8.00')).toMatch(/APPROVED auth A\d{5} RRN \d{12} STAN \d{6}/);
    expect(s.host.ledger.all().map((e) => [e.kind, e.amount, e.status])).toEqual([
      ['advice', 1200, 'posted'],
      ['sale', 800, 'posted'],
    ]);
  }, 90_000);

  it('database read-only: the sale is refused with its own message, queued work is kept, writes resume when the database is writable again', async () => {
    const { t, type, sim: s } = await start();
    await queueOfflineSale(t, type, s);
    const transactions = count(t, `SELECT count(*) AS n FROM transactions`);

    t.db.pragma('query_only = ON');
    expect(() => t.db.exec(`CREATE TABLE probe (x)`)).toThrow(expect.objectContaining({ code: 'SQLITE_READONLY' }));
    // The host comes back while the journal cannot be written: the forwarder must not lose or double the advice.
    await s.host.start();
    const refused = await type('8.00');
    expect(refused).toMatch(
      /Error: Payment refused: the terminal storage is read-only, so the payment cannot be recorded\. Nothing was charged; queued payments are kept\. Call a technician\./,
    );
    expect(refused).not.toMatch(/Waiting for card/);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await type('status')).toMatch(/\[host \w+ \| reader connected \| printer ready\]/);
    expect(count(t, `SELECT count(*) AS n FROM transactions`)).toBe(transactions);

    t.db.pragma('query_only = OFF');
    await until('the queue to drain', () => count(t, `SELECT count(*) AS n FROM saf_queue WHERE state = 'queued'`) === 0);
    expect(await type('8.00')).toMatch(/APPROVED auth A\d{5} RRN \d{12} STAN \d{6}/);
    const advice = s.host.ledger.all().filter((e) => e.kind === 'advice');
    expect(advice).toHaveLength(1);
    expect(advice[0]).toMatchObject({ amount: 1200, status: 'posted' });
    expect(
      s.host.ledger
        .all()
        .filter((e) => e.kind === 'sale')
        .map((e) => e.amount),
    ).toEqual([800]);
  }, 90_000);

  it('storage lost while the host approves: no APPROVED on screen, and the posting is reversed once the journal is writable again', async () => {
    const { t, type, sim: s } = await start();
    let stan = '';
    s.host.onRequest((m) => {
      if (m.mti !== '0200' || stan) return;
      stan = String(m.fields.get(11));
      // The 0200 left after online_sent committed; the approval that comes back cannot be written.
      t.db.pragma('query_only = ON');
    });
    const first = await type('9.00');
    // The 0200 had left: the host may hold the money, so no "nothing was charged" until the reversal is through.
    expect(first).toMatch(
      /Error: Payment not recorded: the terminal storage is read-only\. The payment reached the host and is being reversed; the customer may see a temporary hold\./,
    );
    expect(first).not.toMatch(/APPROVED|Nothing was charged/);
    expect(s.host.ledger.get('TERM0001', stan)?.status).toBe('posted');

    t.db.pragma('query_only = OFF');
    // Recovery (on its idle timer, or before the next payment) sends the stranded one to reversal, as a restart would.
    expect(await type('9.50')).toMatch(/APPROVED auth/);
    await until('the stranded sale to be reversed', () => s.host.ledger.get('TERM0001', stan)?.status === 'reversed');
    await until('the journal to agree', () => t.journal.findByStan(stan)?.state === 'reversed');
  }, 90_000);
});
