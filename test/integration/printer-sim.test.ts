import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../drivers/base/logger.js';
import { PrinterClient } from '../../drivers/printer/client.js';
import { PrinterNotReadyError, PrinterTimeoutError } from '../../drivers/printer/errors.js';
import { describeStatus } from '../../drivers/printer/status.js';
import { layoutReceipt, receiptText, renderReceipt, type ReceiptData } from '../../firmware-app/receipts/layout.js';
import { applyPrinterFault, PrinterFaultError } from '../../sim/printer/faults.js';
import { PrinterSim } from '../../sim/printer/printer-sim.js';
import { PtyPair } from '../../sim/pty.js';

const RECEIPT: ReceiptData = {
  language: 'zh-CN',
  merchantName: '示例商店',
  terminalId: 'TERM0001',
  merchantId: '000000000000001',
  at: new Date(2026, 0, 2, 3, 4, 5),
  type: 'sale',
  amount: 1234,
  currency: 'CNY',
  last4: '1111',
  entryMode: 'chip',
  authCode: 'A1B2C3',
  rrn: '123456789012',
  stan: '000042',
  result: 'APPROVED',
  copy: 'customer',
};

/** The printer driver against the printer simulator over a real socat pty pair. */
describe('printer simulator over a pty', () => {
  let pty: PtyPair;
  let sim: PrinterSim;
  let client: PrinterClient;

  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pos-printer-'));
    pty = new PtyPair(join(dir, 'printer'), join(dir, 'printer.sim'));
    await pty.start();
    sim = new PrinterSim({ path: pty.simPath });
    await sim.start();
    client = new PrinterClient(
      { path: pty.devicePath, baudRate: 115200, statusTimeoutMs: 3000, writeMarginMs: 5000 },
      { logger: silentLogger },
    );
    await client.connect();
  });

  afterEach(async () => {
    await client.close();
    await sim.stop();
    await pty.stop();
  });

  it('prints a receipt that decodes to the text the layout produced', async () => {
    const lines = layoutReceipt(RECEIPT);
    const done = new Promise<{ text: string; raw: Buffer }>((resolve) => sim.once('receipt', resolve));
    const bytes = renderReceipt(lines, 58);
    expect(describeStatus(await client.print(bytes))).toBe('ready');
    const printed = await done;
    expect(printed.text).toBe(`${receiptText(lines, 58)}\n\n\n`);
    expect(printed.raw.includes(bytes)).toBe(true);
  });

  it('runs out of paper mid-job: the check after the job reports paper end, and the torn slip is not a receipt', async () => {
    const bytes = renderReceipt(layoutReceipt(RECEIPT), 58);
    sim.runOutOfPaperAfter(Math.floor(bytes.length / 2));
    const err = await client.print(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrinterNotReadyError);
    expect((err as PrinterNotReadyError).details).toMatchObject({ phase: 'after', status: 'paper out' });
    expect(sim.receipts).toHaveLength(0);
    expect(sim.partials).toHaveLength(1);
    expect(sim.partials[0]!.text).toContain('示例商店');
    expect(sim.partials[0]!.text).not.toContain('持卡人存根');

    // Still out: refused before a byte of the job is sent.
    const again = await client.print(bytes).catch((e: unknown) => e);
    expect((again as PrinterNotReadyError).details).toMatchObject({ phase: 'before', status: 'paper out' });

    applyPrinterFault(sim, 'paper-in');
    await client.print(bytes);
    expect(sim.receipts).toHaveLength(1);
    expect(sim.receipts[0]!.text).toContain('持卡人存根');
  });

  it('reports cover open and offline, and recovers from both', async () => {
    applyPrinterFault(sim, 'cover-open');
    expect(describeStatus(await client.queryStatus())).toBe('cover open');
    applyPrinterFault(sim, 'cover-close');
    applyPrinterFault(sim, 'offline');
    expect(describeStatus(await client.queryStatus())).toBe('offline');
    applyPrinterFault(sim, 'online');
    expect(describeStatus(await client.queryStatus())).toBe('ready');
  });

  it('stops answering: the status check fails with a typed timeout', async () => {
    applyPrinterFault(sim, 'silent');
    const err = await client.print(renderReceipt(layoutReceipt(RECEIPT), 58)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrinterTimeoutError);
    expect((err as PrinterTimeoutError).code).toBe('PRINTER_TIMEOUT');
    expect((err as PrinterTimeoutError).details).toMatchObject({ timeoutMs: 3000 });
    expect(sim.receipts).toHaveLength(0);
  });

  it('rejects a fault it does not know', () => {
    expect(() => applyPrinterFault(sim, 'on-fire')).toThrow(PrinterFaultError);
    expect(() => applyPrinterFault(sim, 'paper-out-after lots')).toThrow(PrinterFaultError);
  });
});
