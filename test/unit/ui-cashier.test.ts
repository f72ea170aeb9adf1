import { afterEach, describe, expect, it } from 'vitest';
import { CashierConsole, type CashierOptions } from '../../firmware-app/ui/cashier/console.js';
import { FakePort, stillClock, txn } from '../support/fake-cashier-port.js';
import { FakeTty } from '../support/fake-tty.js';

describe('cashier console', () => {
  let fake: FakeTty;
  let port: FakePort;
  let console_: CashierConsole;
  let done: Promise<unknown>;

  const start = (options: CashierOptions = {}) => {
    fake = new FakeTty();
    console_ = new CashierConsole(port, fake.tty, { clock: stillClock, ...options });
    done = console_.run();
    // The operator signs in first, as at every start of the console.
    fake.enter('01');
  };

  afterEach(async () => {
    fake.end();
    await done.catch(() => undefined);
  });

  /** Waits for the idle screen (amount entry) written after `from`. */
  const idle = (from = 0) => fake.waitFor(/(Sale amount|消费金额) \(CNY\): /, from);

  /** Opens the function menu from the idle screen. */
  const menu = async () => {
    await idle();
    const mark = fake.mark();
    fake.type('m');
    await fake.waitFor(/\[1\] (Sale|消费)/, mark);
  };

  it('keeps the status line on the top row with host state, SAF depth, printer and reader', async () => {
    port = new FakePort();
    port.statusValue = { host: 'offline', reader: 'connected', printer: 'paper out', safDepth: 3 };
    start();
    await idle();
    expect(fake.rawOutput).toContain('\x1b[1;1H');
    // The date and time to the minute, after the devices.
    expect(fake.screen).toContain('host offline | SAF 3 | printer paper out | reader connected | 2026-11-23 14:30');
    expect(fake.rawOutput).toMatch(new RegExp(`${String.fromCharCode(0x1b)}\\[2;\\d+r`));
  });

  it('rings up exactly the amount typed at the idle screen (12.34, not 2.34), with progress, auth, RRN and STAN', async () => {
    port = new FakePort();
    start();
    // The first screen, whatever it shows: the cashier types the amount straight away.
    await fake.waitFor(/reader connected/);
    fake.enter('12.34');
    await fake.waitFor(/Receipt printed\./);
    expect(port.sales).toEqual([1234]);
    const screen = fake.screen;
    expect(screen).toContain('Waiting for card...');
    expect(screen).toContain('Waiting for host...');
    expect(screen).toContain('Printing...');
    expect(screen).toContain('APPROVED auth A00001 RRN 000000000001 STAN 000001');
  });

  it('refuses an amount that does not parse or is over the limit, and asks again', async () => {
    port = new FakePort();
    start();
    await idle();
    fake.enter('12.345');
    await fake.waitFor(/Not valid: CNY allows 2 decimal places/);
    fake.enter('1.2.3');
    await fake.waitFor(/Not valid: "1\.2\.3" is not an amount/);
    fake.enter('100000.01');
    await fake.waitFor(/over the terminal limit/);
    expect(port.sales).toEqual([]);
    fake.enter('0.50');
    await fake.waitFor(/APPROVED/);
    expect(port.sales).toEqual([50]);
  });

  it('backspace edits the amount before Enter', async () => {
    port = new FakePort();
    start();
    await idle();
    fake.type('19\x7f2.00\r');
    await fake.waitFor(/APPROVED/);
    expect(port.sales).toEqual([1200]);
  });

  it('explains a decline: code, reason, what to do and what to tell the customer', async () => {
    port = new FakePort();
    port.next = { approved: false, code: '51', transaction: txn({ state: 'declined', declineCode: '51', authCode: null }), printed: true };
    start();
    await idle();
    fake.enter('80');
    await fake.waitFor(/DECLINED: Insufficient funds/);
    await fake.waitFor(/What to do: Ask for another card or a smaller amount\./);
    expect(fake.screen).toContain('Code: 51');
    expect(fake.screen).not.toContain('APPROVED');
  });

  it.each([
    ['en', 'Host answer invalid - reversed, retry', 'The payment is being reversed; the customer may see a temporary hold'],
    ['zh-CN', '主机应答无效，已冲正，请重试', '交易正在冲正，顾客账户可能暂时显示冻结金额'],
  ] as const)(
    'an invalid host answer in %s: the sale is being reversed, and nothing says "not charged" before the 0410',
    async (language, reason, notice) => {
      port = new FakePort();
      port.next = {
        approved: false,
        code: 'HOST_PROTOCOL',
        transaction: txn({ state: 'reversal_pending', declineCode: 'HOST_PROTOCOL', authCode: null }),
        printed: true,
      };
      start();
      if (language === 'zh-CN') {
        await menu();
        const mark = fake.mark();
        fake.type('l');
        await idle(mark);
      }
      await idle();
      fake.enter('11.01');
      await fake.waitFor(new RegExp(notice));
      expect(fake.screen).toContain(reason);
      expect(fake.screen).not.toMatch(/not charged|未扣款|未被扣款/);
    },
  );

  it('says a sale with no answer is being reversed, and what a retry does now, in Chinese and English', async () => {
    port = new FakePort();
    const pending = txn({ state: 'reversal_pending', declineCode: 'HOST_TIMEOUT', authCode: null });
    port.next = { approved: false, code: 'HOST_TIMEOUT', retry: 'offline', transaction: pending, printed: true };
    start();
    await menu();
    await fake.waitFor(/\[l\] Language: 中文/);
    fake.type('l');
    await fake.waitFor(/消费金额/);
    fake.enter('12.34');
    await fake.waitFor(/主机无应答，正在冲正/);
    await fake.waitFor(/重试：主机连接中断，现在重新收款将在离线限额内离线批准/);
    expect(fake.screen).toContain('正在撤销，账户可能暂时显示冻结');
    await fake.waitFor(/秒后返回收款界面，或按任意键/);
    const back = fake.mark();
    fake.type('m');
    await fake.waitFor(/\[l\] Language: English/, back);
    const mark = fake.mark();
    fake.type('l');
    port.next = { approved: false, code: 'HOST_TIMEOUT', retry: 'other-method', transaction: pending, printed: true };
    await idle(mark);
    fake.enter('99.00');
    await fake.waitFor(/DECLINED: Host did not answer - being reversed/, mark);
    await fake.waitFor(/Retry: host link down and this payment cannot be approved offline - ask for another payment method/, mark);
  });

  it('cancels a card read with Escape', async () => {
    port = new FakePort();
    port.waitForCancel = true;
    start();
    await idle();
    fake.enter('5');
    await fake.waitFor(/Waiting for card/);
    fake.type('\x1b');
    await fake.waitFor(/CANCELLED: Cancelled by cashier/);
    expect(fake.screen).not.toContain('DECLINED');
    expect(port.cancelled).toBe(1);
  });

  it('refuses Escape once the request is with the host, with a clear line, and shows the answer', async () => {
    port = new FakePort();
    port.holdAtHost = true;
    port.cancelAnswer = 'too-late';
    start();
    await idle();
    fake.enter('5');
    await fake.waitFor(/Waiting for host/);
    fake.type('\x1b');
    await fake.waitFor(/Cannot cancel: the request is already with the host/);
    port.answer();
    await fake.waitFor(/APPROVED auth/);
    expect(fake.screen).not.toContain('Cancelling...');
    expect(port.cancelled).toBe(1);
  });

  it('refuses to void a payment that is not voidable before asking for confirmation', async () => {
    port = new FakePort();
    port.txns = [txn({ id: 5, amount: 5000 })];
    port.notVoidable = 'it has refunds; refund the rest instead';
    start();
    await menu();
    await fake.waitFor(/\[3\] Void/);
    fake.type('3');
    await fake.waitFor(/Supervisor PIN/);
    fake.enter('1111');
    await fake.waitFor(/Transaction number to void/);
    fake.enter('5');
    await fake.waitFor(/Cannot void this payment: it has refunds/);
    expect(fake.screen).not.toContain('Enter to void this payment');
    expect(port.voided).toEqual([]);
  });

  it('shows the last decline explained from the journal', async () => {
    port = new FakePort();
    port.txns = [txn(), txn({ id: 2, state: 'declined', declineCode: '54', authCode: null, amount: 990 })];
    start();
    await menu();
    await fake.waitFor(/\[6\] Last decline/);
    fake.type('6');
    await fake.waitFor(/What to do/);
    expect(fake.screen).toContain('#2');
    expect(fake.screen).toContain('DECLINED: Expired card');
  });

  it('finds a transaction by last four and reprints it', async () => {
    port = new FakePort();
    port.txns = [txn({ id: 7, last4: '4242', amount: 5000 }), txn({ id: 8, last4: '1111' })];
    start();
    await menu();
    await fake.waitFor(/\[5\] Find/);
    fake.type('5');
    await fake.waitFor(/\[3\] Card last four/);
    fake.type('3');
    await fake.waitFor(/Value:/);
    fake.enter('4242');
    await fake.waitFor(/\[1\] #7 .*CNY 50\.00 .*\*\*\*\*4242/);
    expect(port.queries.at(-1)).toMatchObject({ last4: '4242' });
    fake.type('1');
    await fake.waitFor(/Receipt printed\./);
    expect(port.reprinted).toEqual([7]);
  });

  it('finds by time range of today', async () => {
    port = new FakePort();
    start();
    await menu();
    await fake.waitFor(/\[5\] Find/);
    fake.type('5');
    await fake.waitFor(/\[2\] Time range/);
    fake.type('2');
    await fake.waitFor(/Value:/);
    fake.enter('14:00-14:45');
    await fake.waitFor(/Matching transactions/);
    const q = port.queries.at(-1)!;
    expect(new Date(q.from!).getHours()).toBe(14);
    expect(new Date(q.to!).getMinutes()).toBe(45);
  });

  it('reprints the last receipt', async () => {
    port = new FakePort();
    start();
    await menu();
    await fake.waitFor(/\[4\] Reprint/);
    fake.type('4');
    await fake.waitFor(/Receipt printed\./);
    expect(port.reprinted).toEqual([1]);
  });

  it('switches to Chinese and back, slips with it', async () => {
    port = new FakePort();
    start();
    await menu();
    await fake.waitFor(/\[l\] Language: 中文/);
    fake.type('l');
    await fake.waitFor(/输入金额后按回车收款 \(Esc 清除\)。F1 或 m：功能菜单。\s+消费金额 \(CNY\): /);
    expect(console_.language).toBe('zh-CN');
    expect(console_.statusLine()).toBe('主机 在线 | 离线队列 0 | 打印机 就绪 | 读卡器 已连接 | 操作员 01');
    await menu();
    await fake.waitFor(/\[l\] Language: English/);
    const mark = fake.mark();
    fake.type('l');
    await fake.waitFor(/Type the amount and Enter to ring up a sale/, mark);
    expect(console_.language).toBe('en');
    expect(port.slipLanguages).toEqual(['zh-CN', 'en']);
  });

  it('refunds against the original sale', async () => {
    port = new FakePort();
    start();
    await menu();
    await fake.waitFor(/\[2\] Refund/);
    fake.type('2');
    await fake.waitFor(/Supervisor PIN/);
    fake.enter('1111');
    await fake.waitFor(/Amount/);
    fake.enter('5.00');
    await fake.waitFor(/Original sale number/);
    fake.enter('1');
    // Amount and original on screen before anything is sent.
    await fake.waitFor(/Refund CNY 5\.00 of #1 .*sale {2}CNY 12\.34 {2}approved[\s\S]*Enter to refund, Esc to go back/);
    expect(port.refunds).toEqual([]);
    fake.enter('');
    await fake.waitFor(/REFUND APPROVED auth A00001/);
    expect(port.refunds).toEqual([{ amount: 500, originalId: 1 }]);
  });

  it('voids only after the cashier has seen which payment it is and confirmed', async () => {
    port = new FakePort();
    port.txns = [txn({ id: 5, amount: 4200 })];
    start();
    await menu();
    await fake.waitFor(/\[3\] Void/);
    fake.type('3');
    await fake.waitFor(/Supervisor PIN/);
    fake.enter('1111');
    await fake.waitFor(/Transaction number to void/);
    fake.enter('5');
    await fake.waitFor(/Void CNY 42\.00: #5 .*CNY 42\.00[\s\S]*Enter to void this payment, Esc to keep it/);
    expect(port.voided).toEqual([]);
    fake.enter('');
    await fake.waitFor(/VOIDED auth \S+ .*\(transaction 100\)/);
    expect(port.voided).toEqual([5]);
  });

  it('says when a feature is not available instead of failing', async () => {
    port = new FakePort();
    port.refundAvailable = false;
    start();
    await menu();
    await fake.waitFor(/\[2\] Refund/);
    fake.type('2');
    await fake.waitFor(/Supervisor PIN/);
    fake.enter('1111');
    await fake.waitFor(/Amount/);
    fake.enter('1');
    await fake.waitFor(/Original sale number/);
    fake.enter('');
    await fake.waitFor(/Enter to refund/);
    fake.enter('');
    await fake.waitFor(/Not available on this terminal/);
  });
});
