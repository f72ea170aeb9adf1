import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../firmware-app/declines/catalog.js';
import { Simulator } from '../../sim/index.js';
import { decodeToText } from '../../sim/printer/escpos-decoder.js';
import type { PrintedReceipt } from '../../sim/printer/printer-sim.js';
import { MAIN, REPO, writeSimConfig } from '../support/terminal-process.js';
import { TmuxTerminal } from '../support/tmux.js';

/** 58 mm paper prints 48 mm: 384 dots at 8 dots/mm. */
const PRINT_AREA_58 = 384;

/**
 * Slips from the built process in a real terminal (tmux), read back by the printer simulator
 * on its pty: what a cashier hands over and what the merchant files, in both languages.
 */
describe('slips from the running terminal', () => {
  let sim: Simulator;
  let term: TmuxTerminal;
  const slips: PrintedReceipt[] = [];

  const IDLE = /Sale amount \(CNY\):|消费金额 \(CNY\):/;

  /** Resolves with the next `count` slips the printer finishes. */
  async function nextSlips(count: number, from: number): Promise<PrintedReceipt[]> {
    const deadline = Date.now() + 30_000;
    while (slips.length < from + count) {
      if (Date.now() > deadline) throw new Error(`only ${slips.length - from} of ${count} slips printed`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return slips.slice(from, from + count);
  }

  /** Saves a slip as text when UI_CAPTURE_DIR is set: the README and printer.md examples come from here. */
  function capture(name: string, slip: PrintedReceipt): void {
    const dir = process.env.UI_CAPTURE_DIR;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.txt`), slip.text.replace(/\s+$/, '\n'));
  }

  async function ringUp(amount: string, count: number): Promise<PrintedReceipt[]> {
    await term.waitFor(IDLE, 30_000);
    const from = slips.length;
    term.type(amount);
    term.keys('Enter');
    return nextSlips(count, from);
  }

  /** ASCII words left once the codes a slip is filed by (terminal id, auth code, RRN) are taken out. */
  function englishWords(text: string): string[] {
    const codes = ['TERM0001', /授权码\s+(\S+)/.exec(text)?.[1], /参考号\s+(\d+)/.exec(text)?.[1]];
    let rest = text;
    for (const code of codes) if (code) rest = rest.replaceAll(code, ' ');
    return rest.match(/[A-Za-z]+/g) ?? [];
  }

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: PrintedReceipt) => slips.push(r));
    const eReceiptUrl = `https://receipts.example/${'r'.repeat(512 - 25 - 36 - 1)}/`;
    const { configPath } = writeSimConfig(sim, { terminal: { merchantName: '示例便利店' }, printer: { eReceiptUrl } });
    term = TmuxTerminal.start('slips', [process.execPath, MAIN, '--config', configPath], { cwd: REPO });
    await term.waitFor(/host online \| SAF 0 \| printer ready \| reader connected/, 60_000);
    // The operator signs in before the first sale; the slips print the number.
    await term.waitFor(/Operator number \(1-4 digits\), then Enter:/);
    term.type('1');
    term.keys('Enter');
  }, 90_000);

  afterAll(async () => {
    term?.kill();
    await sim?.stop();
  });

  it('an approval prints the merchant copy with a signature block and the customer copy with a QR code that fits 58 mm', async () => {
    const [merchant, customer] = await ringUp('12.34', 2);
    capture('slip-en-merchant', merchant!);
    capture('slip-en-customer', customer!);
    expect(merchant!.text).toMatch(/MERCHANT NO\.[\s\S]*TERMINAL NO\.\s+TERM0001[\s\S]*ENTRY MODE\s+CHIP\n[\s\S]*TOTAL\s+CNY 12\.34/);
    // The operator signed in at the console is on the slip the merchant files.
    expect(merchant!.text).toMatch(/OPERATOR NO\.\s+01\n/);
    expect(merchant!.text).toMatch(/CARDHOLDER SIGNATURE[\s\S]*I ACKNOWLEDGE[\s\S]*MERCHANT COPY/);
    expect(customer!.text).not.toContain('SIGNATURE');
    const { qrSymbols } = decodeToText(customer!.raw);
    expect(qrSymbols.map((q) => Buffer.byteLength(q.data))).toEqual([512]);
    expect(qrSymbols[0]!.widthDots).toBeLessThanOrEqual(PRINT_AREA_58);
  });

  it('after l, a stolen-card decline slip is Chinese with no English word, carries the customer text and no QR', async () => {
    await term.waitFor(IDLE, 30_000);
    term.keys('F1');
    await term.waitFor(/\[l\]/);
    term.type('l');
    await term.waitFor(/消费金额 \(CNY\):/);
    sim.host.queue({ type: 'decline', code: '43' });
    const [slip] = await ringUp('8.80', 1);
    capture('slip-zh-decline-43', slip!);
    const entry = explain('43');
    expect(slip!.text).toContain(entry.customer['zh-CN']);
    expect(slip!.text).not.toContain(entry.cashier['zh-CN']);
    expect(slip!.text).toMatch(/输入方式\s+芯片\n[\s\S]*金额\s+￥8\.80\n/);
    expect(slip!.text).toContain('持卡人存根');
    expect(englishWords(slip!.text)).toEqual([]);
    expect(slip!.qr).toEqual([]);
  });

  it('a Chinese approval: the merchant copy asks for the signature in Chinese, no English word on either copy', async () => {
    const [merchant, customer] = await ringUp('36.05', 2);
    capture('slip-zh-merchant', merchant!);
    expect(merchant!.text).toMatch(/输入方式\s+芯片\n[\s\S]*持卡人签名[\s\S]*本人确认以上交易，\n同意将其记入本卡账户\n[\s\S]*商户存根/);
    for (const slip of [merchant!, customer!]) {
      expect(slip.text).toMatch(/金额\s+￥36\.05\n/);
      expect(englishWords(slip.text)).toEqual([]);
    }
  });
});
