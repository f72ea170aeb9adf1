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

  const SUPERVISOR_PIN = '8642';

  /** Answers the supervisor PIN prompt, in either language. */
  const supervisor = async () => {
    await term.waitFor(/(Supervisor PIN \(Esc to go back\)|请输入主管密码 \(Esc 返回\)):\s*$/m);
    term.type(SUPERVISOR_PIN);
    term.keys('Enter');
  };

  /** The idle screen: amount entry under the status line. */
  const IDLE = /Type the amount and Enter to ring up a sale[\s\S]*Sale amount \(CNY\):/;

  /** Any key leaves a result or a screen for the idle screen (where a space does nothing). */
  const backToIdle = async () => {
    term.type(' ');
    await term.waitFor(IDLE);
  };

  /** Opens the function menu (F1) from the idle screen. */
  const menu = async () => {
    term.keys('F1');
    await term.waitFor(/\[1\] Sale[\s\S]*Press a key\./);
  };

  beforeAll(async () => {
    sim = await Simulator.start();
    sim.printer.on('receipt', (r: { text: string }) => receipts.push(r.text));
    const { configPath } = writeSimConfig(sim, {
      diagnostics: { pinHash: hashPin('2468') },
      ui: { supervisorPinHash: hashPin(SUPERVISOR_PIN) },
    });
    // The shell around the process prints how it ended: leaving the application is what some tests look for.
    term = TmuxTerminal.start('cashier', ['sh', '-c', '"$0" "$@"; echo "exit status $?"', process.execPath, MAIN, '--config', configPath], {
      cwd: REPO,
    });
    await term.waitFor(/host online \| SAF 0 \| printer ready \| reader connected/, 60_000);
    // The operator signs in with their number before the first sale.
    await term.waitFor(/Operator number \(1-4 digits\), then Enter:/);
    term.capture('cashier-signin');
    term.type('1');
    term.keys('Enter');
    await term.waitFor(IDLE);
    await term.waitFor(/reader connected \| operator 01 \|/);
    term.capture('cashier-idle');
  }, 90_000);

  afterAll(async () => {
    term?.kill();
    await sim?.stop();
  });

  let sale: { auth: string; rrn: string; stan: string };

  it('rings up exactly the amount typed at the idle screen, and goes back there by itself', async () => {
    term.type('12.345');
    term.keys('Enter');
    await term.waitFor(/Not valid: CNY allows 2 decimal places/);
    term.type('12.34');
    term.keys('Enter');
    const m = await term.waitFor(/APPROVED auth (\S+) RRN (\d{12}) STAN (\d{6})/, 30_000);
    await term.waitFor(/Receipt printed\.[\s\S]*Back to amount entry in 5 s, or press a key\./, 30_000);
    sale = { auth: m[1]!, rrn: m[2]!, stan: m[3]! };
    term.capture('cashier-sale');
    expect(term.screen()).toMatch(/^ host online \| SAF 0 \| printer ready/);
    expect(sim.host.ledger.get('TERM0001', sale.stan)).toMatchObject({
      status: 'posted',
      amount: 1234,
      authCode: sale.auth,
      rrn: sale.rrn,
    });
    // The customer display shows the result too, then goes back to idle with the screen.
    await expect.poll(() => sim.reader.screen, { timeout: 10_000 }).toEqual(['APPROVED', 'CNY 12.34']);
    // No key pressed: the result gives way to the idle screen after ui.resultHoldMs.
    await term.waitFor(IDLE, 30_000);
    await expect.poll(() => sim.reader.screen, { timeout: 10_000 }).toEqual(['WELCOME', '']);
  });

  it('shows a decline with its code, reason and what to do, and again under "last decline"', async () => {
    sim.host.queue({ type: 'decline', code: '51' });
    term.type('80');
    term.keys('Enter');
    await term.waitFor(/DECLINED: Insufficient funds/, 30_000);
    await term.waitFor(/What to do: Ask for another card or a smaller amount\./);
    expect(term.screen()).toMatch(/Code: 51/);
    term.capture('cashier-decline');
    await backToIdle();
    await menu();
    term.capture('cashier-menu');
    term.type('6');
    await term.waitFor(/Last decline explained[\s\S]*CNY 80\.00[\s\S]*DECLINED: Insufficient funds[\s\S]*Code: 51/);
    await backToIdle();
  });

  it('reprints the last receipt, marked as a reprint', async () => {
    const before = receipts.length;
    await menu();
    term.type('4');
    await term.waitFor(/Reprint last receipt[\s\S]*Receipt printed\./, 30_000);
    await expect.poll(() => receipts.length, { timeout: 15_000 }).toBeGreaterThan(before);
    const slip = receipts.at(-1)!;
    expect(slip).toMatch(/REPRINT/i);
    expect(slip).toContain('CNY 80.00');
    await backToIdle();
  });

  it('finds the sale by RRN and by amount (the "customer says they paid the wrong amount" case)', async () => {
    await menu();
    term.type('5');
    await term.waitFor(/\[5\] RRN/);
    term.type('5');
    await term.waitFor(/Value:/);
    term.type(sale.rrn);
    term.keys('Enter');
    await term.waitFor(new RegExp(`\\[1\\] #\\d+ .*sale\\s+CNY 12\\.34\\s+approved\\s+\\*{4}1111\\s+auth ${sale.auth}\\s+RRN ${sale.rrn}`));
    term.capture('cashier-find');
    term.keys('Escape');
    await term.waitFor(IDLE);
    await menu();
    term.type('5');
    await term.waitFor(/\[1\] Amount/);
    term.type('1');
    term.type('12.34');
    term.keys('Enter');
    await term.waitFor(/\[1\] #\d+ .*CNY 12\.34/);
    expect(term.screen()).not.toContain('CNY 80.00');
    term.keys('Escape');
    await term.waitFor(IDLE);
  });

  it('refunds part of the sale against it after the supervisor PIN and a confirmation; that sale can no longer be voided, a fresh one can', async () => {
    await menu();
    term.type('2');
    await supervisor();
    await term.waitFor(/Amount \(CNY\)/);
    term.type('2.00');
    term.keys('Enter');
    await term.waitFor(/Original sale number/);
    term.type('1');
    term.keys('Enter');
    // Amount and original on screen, and nothing sent, until the cashier confirms.
    await term.waitFor(/Refund CNY 2\.00 of #1 .*sale {2}CNY 12\.34 {2}approved[\s\S]*Enter to refund, Esc to go back:/);
    const refundsBefore = sim.host.received.length;
    term.capture('cashier-refund-confirm');
    expect(sim.host.received.length).toBe(refundsBefore);
    term.keys('Enter');
    await term.waitFor(/REFUND APPROVED auth \S+ RRN \d{12} STAN \d{6}/, 30_000);
    await backToIdle();
    await menu();
    term.type('3');
    await supervisor();
    await term.waitFor(/Transaction number to void/);
    term.type('1');
    term.keys('Enter');
    // A void goes back for the full amount: on top of the refund it would return more than was paid.
    await term.waitFor(/#1 .*CNY 12\.34[\s\S]*Cannot void this payment: it has refunds; refund the rest instead/);
    expect(term.screen()).not.toContain('Enter to void this payment');
    await backToIdle();
    term.type('9.00');
    term.keys('Enter');
    const [, id] = await term.waitFor(/APPROVED auth \S+ RRN \d{12} STAN \d{6} \(transaction (\d+)\)/, 30_000);
    await backToIdle();
    await menu();
    term.type('3');
    await supervisor();
    await term.waitFor(/Transaction number to void/);
    term.type(id!);
    term.keys('Enter');
    await term.waitFor(new RegExp(`Void CNY 9\\.00: #${id} .*CNY 9\\.00[\\s\\S]*Enter to void this payment`));
    term.keys('Enter');
    await term.waitFor(/VOIDED.* \(transaction \d+\)/, 30_000);
    term.capture('cashier-void');
    await backToIdle();
  });

  it('sees the printer run out of paper while idle and starts no sale until paper is back', async () => {
    sim.printer.setPaperOut(true);
    try {
      await term.waitFor(/printer paper out/, 30_000);
      term.type('4.00');
      term.keys('Enter');
      await term.waitFor(/Cannot start a sale: the printer is out of paper - load paper/);
      term.capture('cashier-paper-out');
    } finally {
      sim.printer.setPaperOut(false);
    }
    await backToIdle();
    await term.waitFor(/printer ready/, 30_000);
  });

  it('cancels a payment with Escape while the reader waits for the card', async () => {
    sim.reader.autoPresent = false;
    try {
      term.type('7.50');
      term.keys('Enter');
      await term.waitFor(/Waiting for card\.\.\./, 30_000);
      term.keys('Escape');
      await term.waitFor(/Cancelling\.\.\.[\s\S]*CANCELLED: Cancelled by cashier/, 30_000);
      expect(term.screen()).not.toMatch(/APPROVED/);
    } finally {
      sim.reader.autoPresent = true;
    }
    await backToIdle();
  });

  /** Unplugs the reader while it waits for a card; the next sale is refused until it is back. */
  const readerFault = async (amount: string, notCompleted: RegExp, blocked: RegExp, idle: () => Promise<void>) => {
    const before = sim.host.received.length;
    sim.reader.presentNothing();
    term.type(amount);
    term.keys('Enter');
    await term.waitFor(/(Waiting for card|请刷卡\/插卡\/挥卡)\.\.\. \d+ (s|秒)/, 30_000);
    // Pulled while the reader runs the READ (the card it would not get is used up with it).
    await expect.poll(() => sim.reader.state, { timeout: 15_000 }).toBe('READING');
    await sim.unplugReader();
    await term.waitFor(notCompleted, 30_000);
    const screen = term.screen();
    expect(screen).not.toMatch(/DECLINED|交易拒绝/);
    expect(sim.host.received.slice(before).filter((r) => r.message.mti === '0200')).toEqual([]);
    await idle();
    await term.waitFor(/reader disconnected|读卡器 未连接/, 30_000);
    term.type(amount);
    term.keys('Enter');
    await term.waitFor(blocked);
    await sim.replugReader();
    await term.waitFor(/reader connected|读卡器 已连接/, 60_000);
    return screen;
  };

  it('a reader unplugged while it waits for the card shows NOT COMPLETED, never DECLINED, and no sale starts until it is back', async () => {
    const screen = await readerFault(
      '26.00',
      /NOT COMPLETED: Card reader disconnected[\s\S]*Nothing was charged\./,
      /Cannot start a sale: the card reader is not connected - check its cable/,
      backToIdle,
    );
    expect(screen).toMatch(/Code: READER_DISCONNECTED {2}\(Category: terminal\)/);
    await backToIdle();
  }, 120_000);

  const zhIdle = async () => {
    term.type(' ');
    await term.waitFor(/输入金额后按回车收款[\s\S]*消费金额 \(CNY\):/);
  };

  const zhMenu = async () => {
    term.keys('F1');
    await term.waitFor(/\[1\] 消费[\s\S]*请按键选择。/);
  };

  it('in Chinese: the amount typed at idle is rung up exactly; refund and void ask the supervisor and confirm; a refunded sale is not voided; a reader fault is 交易未完成', async () => {
    await menu();
    term.type('l');
    await term.waitFor(/主机 在线 \| 离线队列 0 \| 打印机 就绪 \| 读卡器 已连接/);
    await term.waitFor(/消费金额 \(CNY\):/);
    term.capture('cashier-zh');
    term.type('36.05');
    term.keys('Enter');
    const [, stan, id] = await term.waitFor(/交易成功 APPROVED 授权码 \S+ RRN \d{12} STAN (\d{6}) \(交易号 (\d+)\)/, 30_000);
    expect(sim.host.ledger.get('TERM0001', stan!)).toMatchObject({ status: 'posted', amount: 3605 });
    await expect.poll(() => sim.reader.screen, { timeout: 10_000 }).toEqual(['交易成功', '¥36.05']);
    await term.waitFor(/秒后返回收款界面，或按任意键。/);
    await zhIdle();

    // A refund without its original: the supervisor, the mark, and a confirmation before it goes.
    await zhMenu();
    term.type('2');
    await supervisor();
    await term.waitFor(/金额 \(CNY\)，Esc 返回:/);
    term.type('1.00');
    term.keys('Enter');
    await term.waitFor(/原消费交易号/);
    term.keys('Enter');
    await term.waitFor(/退货 ¥1\.00[\s\S]*无原交易：此笔退货将标注为无原交易退货[\s\S]*按回车确认退货，Esc 返回:/);
    term.keys('Enter');
    await term.waitFor(/退货成功 REFUND APPROVED 授权码 \S+ RRN \d{12}/, 30_000);
    await zhIdle();

    // The refunded sale cannot be voided, and the screen says why in Chinese.
    await zhMenu();
    term.type('3');
    await supervisor();
    await term.waitFor(/要撤销的交易号/);
    term.type('1');
    term.keys('Enter');
    await term.waitFor(/#1 .*消费 {2}¥12\.34 {2}成功[\s\S]*此交易不能撤销: 该笔消费已有退货，请对剩余金额做退货/);
    await zhIdle();

    // The sale just rung up is voided after the supervisor PIN and a confirmation.
    await zhMenu();
    term.type('3');
    await supervisor();
    await term.waitFor(/要撤销的交易号/);
    term.type(id!);
    term.keys('Enter');
    await term.waitFor(new RegExp(`撤销 ¥36\\.05： ?#${id} [\\s\\S]*按回车撤销此交易，Esc 保留:`));
    term.capture('cashier-zh-void-confirm');
    term.keys('Enter');
    await term.waitFor(/已撤销 VOIDED 授权码 \S+/, 30_000);
    await zhIdle();

    const screen = await readerFault(
      '6.00',
      /交易未完成 NOT COMPLETED: 读卡器未连接[\s\S]*未扣款。/,
      /暂不能收款: 读卡器未连接，请检查连线/,
      zhIdle,
    );
    expect(screen).toMatch(/代码: READER_DISCONNECTED {2}\(类别: 终端\)[\s\S]*处理建议: 请检查读卡器连线后重试。/);
    await zhIdle();

    // The technician menu opens in the console's language too.
    await zhMenu();
    term.type('t');
    await term.waitFor(/维护 - PIN \(本机\)[\s\S]*请输入维护密码 \(Esc 返回\):/);
    term.type('2468');
    term.keys('Enter');
    await term.waitFor(/\[1\] 设备信息与实时状态[\s\S]*\[s\] 关闭终端[\s\S]*\[x\] 退出维护菜单[\s\S]*请按键选择。/);
    term.capture('technician-zh');
    term.type('x');
    await term.waitFor(/消费金额 \(CNY\):/);
    term.keys('F1');
    await term.waitFor(/\[1\] 消费/);
    term.type('l');
    await term.waitFor(IDLE);
  }, 180_000);

  it('stays open on Esc and q at the idle screen and in the menu; only the technician shuts the terminal down', async () => {
    term.keys('Escape');
    term.type('q');
    term.keys('Escape');
    term.type('q');
    await menu();
    term.type('q');
    term.keys('Escape');
    await term.waitFor(IDLE);
    // Keys after the ones that used to quit still reach the console: the menu opens again.
    await menu();
    expect(term.screen()).not.toMatch(/Goodbye\.|exit status/);
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
