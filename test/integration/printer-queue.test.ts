import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { parseConfig } from '../../firmware-app/config/load.js';
import type { ConfigInput } from '../../firmware-app/config/schema.js';
import { explain } from '../../firmware-app/declines/catalog.js';
import { receiptForTransaction } from '../../firmware-app/receipts/from-transaction.js';
import { columnsFor, layoutReceipt, receiptText, type PaperWidth, type ReceiptCopy } from '../../firmware-app/receipts/layout.js';
import { displayWidth } from '../../firmware-app/receipts/width.js';
import { compose, type App } from '../../firmware-app/compose.js';
import { Simulator } from '../../sim/index.js';
import { TerminalAdapter } from '../../firmware-app/ui/terminal-adapter.js';
import { decodeToText } from '../../sim/printer/escpos-decoder.js';
import type { PrintedReceipt } from '../../sim/printer/printer-sim.js';

/**
 * The terminal in-process against the simulator: the printer on a real socat pty, the host
 * on loopback TCP, the journal and print queue in a real SQLite file.
 */
describe('receipts through the durable print queue', () => {
  let sim: Simulator;
  let terminal: App | undefined;
  // Each terminal starts a fresh journal (STAN 000001 again): its own id keeps the host from seeing duplicates.
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
    sim.printer.setPaperOut(false);
    sim.printer.silent = false;
    sim.host.defaultAction = { type: 'approve' };
    sim.printer.receipts.length = 0;
    sim.printer.partials.length = 0;
  });

  async function startTerminal(
    overrides: { terminal?: ConfigInput['terminal']; printer?: Partial<NonNullable<ConfigInput['printer']>> } = {},
  ) {
    const ep = sim.endpoints;
    const config = parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'pos-print-it-')),
      terminal: { id: `PRNT${String(++terminals).padStart(4, '0')}`, ...overrides.terminal },
      reader: { path: ep.readerPath, commandTimeoutMs: 5000 },
      printer: { path: ep.printerPath, statusTimeoutMs: 5000, pollIntervalMs: 200, ...overrides.printer },
      host: { address: ep.hostAddress, port: ep.hostPort, responseTimeoutMs: 5000 },
      log: { level: 'silent', target: 'stdout' },
    });
    const t = compose(config, { logger: silentLogger });
    terminal = t;
    await t.start();
    return t;
  }

  /** Resolves when the queue has marked these jobs printed (after the printer's clean status). */
  function jobsPrinted(t: App, ids: number[], timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`jobs ${ids.join(', ')} not printed`)), timeoutMs);
      const check = () => {
        if (!ids.every((id) => t.printing.get(id).state === 'printed')) return;
        clearTimeout(timer);
        t.printing.off('printed', check);
        resolve();
      };
      t.printing.on('printed', check);
      check();
    });
  }

  function receipts(count: number, timeoutMs = 20_000): Promise<PrintedReceipt[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${sim.printer.receipts.length} of ${count} receipts printed`)), timeoutMs);
      const check = () => {
        if (sim.printer.receipts.length < count) return;
        clearTimeout(timer);
        sim.printer.off('receipt', check);
        resolve([...sim.printer.receipts]);
      };
      sim.printer.on('receipt', check);
      check();
    });
  }

  function expectedText(t: App, id: number, copy: ReceiptCopy, width: PaperWidth): string {
    const c = t.config;
    const ctx = {
      language: c.terminal.language,
      merchantName: c.terminal.merchantName,
      terminalId: c.terminal.id,
      merchantId: c.terminal.merchantId,
      eReceiptUrl: '',
    };
    return `${receiptText(layoutReceipt(receiptForTransaction(t.journal.get(id), ctx, copy)), width)}\n\n\n`;
  }

  it('paper runs out mid-receipt: the sale stands, the slips wait, the cashier sees "paper out", and after a refill each prints once, complete', async () => {
    const t = await startTerminal();
    expect(t.terminal.status().printer).toBe('ready');
    // The merchant copy prints first; the roll ends a few lines into it.
    sim.printer.runOutOfPaperAfter(200);

    const sale = await t.terminal.sale(1234);
    expect(sale.result).toBe('approved');
    expect(t.journal.get(sale.transaction.id).state).toBe('approved');
    expect(sim.host.ledger.get(t.config.terminal.id, sale.transaction.stan!)).toMatchObject({ status: 'posted', amount: 1234 });
    expect(sale).toMatchObject({ printed: false, receiptQueued: true });
    expect(sale.printError).toContain('paper out');

    expect(t.terminal.status().printer).toBe('paper out (2 waiting)');
    expect(t.printing.pending().map((j) => j.copy)).toEqual(['merchant', 'customer']);
    expect(sim.printer.receipts).toHaveLength(0);
    expect(sim.printer.partials).toHaveLength(1);
    expect(sim.printer.partials[0]!.text).not.toContain('MERCHANT COPY');

    const id = sale.transaction.id;
    const done = jobsPrinted(
      t,
      t.printing.pending().map((j) => j.id),
    );
    sim.printer.setPaperOut(false);
    await done;
    const [merchant, customer] = sim.printer.receipts;
    expect(merchant!.text).toBe(expectedText(t, id, 'merchant', 58));
    expect(customer!.text).toBe(expectedText(t, id, 'customer', 58));
    expect(t.printing.jobsFor(id).map((j) => [j.copy, j.state])).toEqual([
      ['merchant', 'printed'],
      ['customer', 'printed'],
    ]);
    expect(t.terminal.status().printer).toBe('ready');

    // Nothing is left to print twice.
    await t.printing.drain();
    expect(await t.printing.drain()).toEqual({ printed: [], waiting: 0 });
    expect(sim.printer.receipts).toHaveLength(2);
  });

  it('the printer stops answering: a typed timeout within the configured time, the sale itself unaffected', async () => {
    const t = await startTerminal({ printer: { statusTimeoutMs: 1500, merchantCopy: false } });
    sim.printer.silent = true;

    const sale = await t.terminal.sale(2500);
    expect(sale.result).toBe('approved');
    expect(t.journal.get(sale.transaction.id).state).toBe('approved');
    expect(sim.host.ledger.get(t.config.terminal.id, sale.transaction.stan!)).toMatchObject({ status: 'posted', amount: 2500 });
    expect(sale).toMatchObject({ printed: false, receiptQueued: true });
    expect(t.printing.state).toMatchObject({
      printer: 'not answering',
      pending: 1,
      error: { code: 'PRINTER_TIMEOUT', message: 'printer did not answer DLE EOT 1 within 1500 ms' },
    });
    expect(t.terminal.status().printer).toBe('not answering (1 waiting)');

    const printed = receipts(1);
    sim.printer.silent = false;
    const [slip] = await printed;
    expect(slip!.text).toBe(expectedText(t, sale.transaction.id, 'customer', 58));
  });

  for (const width of [58, 80] as const) {
    it(`prints a Chinese decline slip (merchant name and reason in zh-CN) at ${width} mm, decoded intact`, async () => {
      const merchantName = '上海浦东张江示例便利店有限公司';
      const t = await startTerminal({ terminal: { language: 'zh-CN', merchantName }, printer: { widthMm: width } });
      sim.host.defaultAction = { type: 'decline', code: '51' };

      const sale = await t.terminal.sale(880);
      expect(sale.result).toBe('declined');
      expect(sale.printed).toBe(true);
      const [slip] = await receipts(1);
      const text = slip!.text;
      expect(text).toBe(expectedText(t, sale.transaction.id, 'customer', width));
      expect(text).not.toContain('\uFFFD');
      const reason = explain('51').cashier['zh-CN'];
      expect(text).toContain(reason);
      expect(text).toContain('交易失败');
      // The name is printed double width: wrapped at half the columns, every character kept.
      const nameLines = text.split('\n').slice(0, Math.ceil(displayWidth(merchantName) / (columnsFor(width) / 2)));
      expect(nameLines.join('')).toBe(merchantName);
      for (const line of nameLines) expect(displayWidth(line)).toBeLessThanOrEqual(columnsFor(width) / 2);
      for (const line of text.split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(columnsFor(width));
      expect(text).not.toContain('4111111111111111');
    });
  }

  it('a stolen-card decline after the cashier switched to Chinese: the slip tells the customer only what the customer text says, in Chinese with no English word, and no QR', async () => {
    // The merchant's name is the merchant's own data; a Chinese shop's is Chinese.
    const t = await startTerminal({ terminal: { merchantName: '示例便利店' }, printer: { eReceiptUrl: 'https://receipts.example/r/' } });
    new TerminalAdapter(t.terminal).setSlipLanguage('zh-CN');
    sim.host.defaultAction = { type: 'decline', code: '43' };

    const sale = await t.terminal.sale(880);
    expect(sale.result).toBe('declined');
    const id = sale.transaction.id;
    // Reprinted as the decline slip's pass ends: the report waits for the pass that prints it.
    expect((await t.terminal.reprint(id)).printed).toBe(true);
    const slips = await receipts(2);
    const entry = explain('43');
    for (const slip of slips) {
      expect(slip.text).toContain(entry.customer['zh-CN']);
      expect(slip.text).not.toContain(entry.cashier['zh-CN']);
      expect(slip.text).toMatch(/输入方式\s+芯片\n[\s\S]*金额\s+￥8\.80\n/);
      expect(slip.qr).toEqual([]);
      // Codes and numbers are what an acquirer files a slip by; any other ASCII word is English.
      const rest = slip.text.replaceAll(t.config.terminal.id, ' ').replaceAll(t.journal.get(id).rrn ?? '-', ' ');
      expect(rest.match(/[A-Za-z]+/g)).toBeNull();
    }
    expect(slips[1]!.text).toMatch(/^\*\*\* 重打印 \*\*\*\n/);
  });

  it('a 58 mm approval with a 512-byte e-receipt link prints its QR code within the print area', async () => {
    const eReceiptUrl = `https://receipts.example/${'r'.repeat(512 - 25 - 36 - 1)}/`;
    const t = await startTerminal({ printer: { eReceiptUrl, widthMm: 58, merchantCopy: false } });
    const sale = await t.terminal.sale(1234);
    expect(sale.result).toBe('approved');
    const [slip] = await receipts(1);
    const { qrSymbols } = decodeToText(slip!.raw);
    expect(qrSymbols.map((q) => Buffer.byteLength(q.data))).toEqual([512]);
    // 58 mm paper prints 48 mm: 384 dots at 8 dots/mm.
    expect(qrSymbols[0]!.widthDots).toBeLessThanOrEqual(384);
  });
});
