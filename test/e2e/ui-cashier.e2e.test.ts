import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_SHUT_DOWN } from '../../firmware-app/ui/start.js';
import { hashPin } from '../../firmware-app/ui/diagnostics/pin.js';
import { Simulator } from '../../sim/index.js';
import { MAIN, REPO, writeSimConfig } from '../support/terminal-process.js';
import { TmuxTerminal } from '../support/tmux.js';

/**
 * The cashier console of the built process, in a real terminal (tmux), against the
 * simulator: what the cashier types and what the screen shows.
 */
describe('cashier console in a real terminal', () => {
  let sim: Simulator;
  let term: TmuxTerminal;
  const receipts: string[] = [];

  const backToMenu = async () => {
    term.type(' ');
    await term.waitFor(/\[1\] Sale[\s\S]*Press a key\./);
  };

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: { text: string }) => receipts.push(r.text));
    const { configPath } = writeSimConfig(sim, { diagnostics: { pinHash: hashPin('2468') } });
    // The shell around the process prints how it ended: leaving the application is what some tests look for.
    term = TmuxTerminal.start('cashier', ['sh', '-c', '"$0" "$@"; echo "exit status $?"', process.execPath, MAIN, '--config', configPath], {
      cwd: REPO,
    });
    await term.waitFor(/host online \| SAF 0 \| printer ready \| reader connected/, 60_000);
    await term.waitFor(/\[1\] Sale[\s\S]*Press a key\./);
    term.capture('cashier-menu');
  }, 90_000);

  afterAll(async () => {
    term?.kill();
    await sim?.stop();
  });

  let sale: { auth: string; rrn: string; stan: string };

  it('completes a sale: amount typed, card tapped, host approval, receipt printed', async () => {
    term.type('1');
    await term.waitFor(/Amount \(CNY\)/);
    term.type('12.345');
    term.keys('Enter');
    await term.waitFor(/Not valid: CNY allows 2 decimal places/);
    term.type('12.34');
    term.keys('Enter');
    const m = await term.waitFor(/APPROVED auth (\S+) RRN (\d{12}) STAN (\d{6})/, 30_000);
    await term.waitFor(/Receipt printed\./, 30_000);
    sale = { auth: m[1]!, rrn: m[2]!, stan: m[3]! };
    term.capture('cashier-sale');
    expect(term.screen()).toMatch(/^ host online \| SAF 0 \| printer ready/);
    expect(sim.host.ledger.get('TERM0001', sale.stan)).toMatchObject({
      status: 'posted',
      amount: 1234,
      authCode: sale.auth,
      rrn: sale.rrn,
    });
    await backToMenu();
  });

  it('shows a decline with its code, reason and what to do, and again under "last decline"', async () => {
    sim.host.queue({ type: 'decline', code: '51' });
    term.type('1');
    await term.waitFor(/Amount \(CNY\)/);
    term.type('80');
    term.keys('Enter');
    await term.waitFor(/DECLINED: Insufficient funds/, 30_000);
    await term.waitFor(/What to do: Ask for another card or a smaller amount\./);
    expect(term.screen()).toMatch(/Code: 51/);
    term.capture('cashier-decline');
    await backToMenu();
    term.type('6');
    await term.waitFor(/Last decline explained[\s\S]*CNY 80\.00[\s\S]*DECLINED: Insufficient funds[\s\S]*Code: 51/);
    await backToMenu();
  });

  it('reprints the last receipt, marked as a reprint', async () => {
    const before = receipts.length;
    term.type('4');
    await term.waitFor(/Reprint last receipt[\s\S]*Receipt printed\./, 30_000);
    await expect.poll(() => receipts.length, { timeout: 15_000 }).toBeGreaterThan(before);
    const slip = receipts.at(-1)!;
    expect(slip).toMatch(/REPRINT/i);
    expect(slip).toContain('CNY 80.00');
    await backToMenu();
  });

  it('finds the sale by RRN and by amount (the "customer says they paid the wrong amount" case)', async () => {
    term.type('5');
    await term.waitFor(/\[5\] RRN/);
    term.type('5');
    await term.waitFor(/Value:/);
    term.type(sale.rrn);
    term.keys('Enter');
    await term.waitFor(new RegExp(`\\[1\\] #\\d+ .*sale\\s+CNY 12\\.34\\s+approved\\s+\\*{4}1111\\s+auth ${sale.auth}\\s+RRN ${sale.rrn}`));
    term.capture('cashier-find');
    term.keys('Escape');
    await term.waitFor(/\[1\] Sale[\s\S]*Press a key\./);
    term.type('5');
    await term.waitFor(/\[1\] Amount/);
    term.type('1');
    term.type('12.34');
    term.keys('Enter');
    await term.waitFor(/\[1\] #\d+ .*CNY 12\.34/);
    expect(term.screen()).not.toContain('CNY 80.00');
    term.keys('Escape');
    await term.waitFor(/\[1\] Sale[\s\S]*Press a key\./);
  });

  it('refunds part of the sale against it; that sale can no longer be voided, a fresh one can', async () => {
    term.type('2');
    await term.waitFor(/Amount \(CNY\)/);
    term.type('2.00');
    term.keys('Enter');
    await term.waitFor(/Original sale number/);
    term.type('1');
    term.keys('Enter');
    await term.waitFor(/REFUND APPROVED auth \S+ RRN \d{12} STAN \d{6}/, 30_000);
    await backToMenu();
    term.type('3');
    await term.waitFor(/Transaction number to void/);
    term.type('1');
    term.keys('Enter');
    // A void goes back for the full amount: on top of the refund it would return more than was paid.
    await term.waitFor(/#1 .*CNY 12\.34[\s\S]*Cannot void this payment: it has refunds/);
    expect(term.screen()).not.toContain('Enter to void this payment');
    await backToMenu();
    term.type('1');
    await term.waitFor(/Amount \(CNY\)/);
    term.type('9.00');
    term.keys('Enter');
    const [, id] = await term.waitFor(/APPROVED auth \S+ RRN \d{12} STAN \d{6} \(transaction (\d+)\)/, 30_000);
    await backToMenu();
    term.type('3');
    await term.waitFor(/Transaction number to void/);
    term.type(id!);
    term.keys('Enter');
    await term.waitFor(new RegExp(`#${id} .*CNY 9\\.00[\\s\\S]*Enter to void this payment`));
    term.keys('Enter');
    await term.waitFor(/VOIDED.* \(transaction \d+\)/, 30_000);
    term.capture('cashier-void');
    await backToMenu();
  });

  it('cancels a payment with Escape while the reader waits for the card', async () => {
    sim.reader.autoPresent = false;
    try {
      term.type('1');
      await term.waitFor(/Amount \(CNY\)/);
      term.type('7.50');
      term.keys('Enter');
      await term.waitFor(/Waiting for card\.\.\./, 30_000);
      term.keys('Escape');
      await term.waitFor(/Cancelling\.\.\.[\s\S]*CANCELLED: Cancelled by cashier/, 30_000);
      expect(term.screen()).not.toMatch(/APPROVED/);
    } finally {
      sim.reader.autoPresent = true;
    }
    await backToMenu();
  });

  it('switches the console to Chinese', async () => {
    term.type('l');
    await term.waitFor(/主机 在线 \| 离线队列 0 \| 打印机 就绪 \| 读卡器 已连接/);
    await term.waitFor(/\[1\] 消费/);
    term.capture('cashier-zh');
    term.type('l');
    await term.waitFor(/\[1\] Sale/);
  });

  it('stays open on Esc and q at the menu; only the technician shuts the terminal down', async () => {
    term.keys('Escape');
    term.type('q');
    term.keys('Escape');
    term.type('q');
    // A key the menu knows, after the ones that used to quit: the console is still reading keys.
    term.type('l');
    await term.waitFor(/\[1\] 消费/);
    expect(term.screen()).not.toMatch(/Goodbye\.|exit status/);
    term.type('l');
    await term.waitFor(/\[1\] Sale/);
    term.type('t');
    await term.waitFor(/Technician PIN/);
    term.type('2468');
    term.keys('Enter');
    await term.waitFor(/\[s\] Shut down terminal/);
    term.type('s');
    await term.waitFor(/Enter to shut down, Esc to go back/);
    term.keys('Enter');
    await term.waitFor(/Goodbye\./, 30_000);
    await term.waitFor(new RegExp(`exit status ${EXIT_SHUT_DOWN}$`, 'm'), 30_000);
  }, 120_000);
});
