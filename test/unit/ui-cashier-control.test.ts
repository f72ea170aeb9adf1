import { afterEach, describe, expect, it } from 'vitest';
import { CashierConsole, type CashierOptions } from '../../firmware-app/ui/cashier/console.js';
import { FakePort, NOW, stillClock, txn } from '../support/fake-cashier-port.js';
import { FakeTty } from '../support/fake-tty.js';
import { ManualClock } from '../support/manual-clock.js';

/**
 * The counter's controls: operator sign-in, the supervisor PIN on refunds and voids, words
 * that do not lie about a result, the sale pre-checks, the countdowns and paging in find.
 */
describe('cashier console control', () => {
  let fake: FakeTty;
  let port: FakePort;
  let console_: CashierConsole;
  let done: Promise<unknown>;

  const start = (options: CashierOptions = {}, operator = '7') => {
    fake = new FakeTty();
    console_ = new CashierConsole(port, fake.tty, { clock: stillClock, ...options });
    done = console_.run();
    fake.enter(operator);
  };

  afterEach(async () => {
    fake.end();
    await done.catch(() => undefined);
  });

  const idle = (from = 0) => fake.waitFor(/(Sale amount|消费金额) \(CNY\): /, from);

  /** Opens the function menu from the idle screen and picks `key`. */
  const pick = async (key: string) => {
    await idle();
    const mark = fake.mark();
    fake.type('m');
    await fake.waitFor(/\[1\] (Sale|消费)/, mark);
    fake.type(key);
  };

  it('signs the operator in before the first sale and shows the number on the status line', async () => {
    port = new FakePort();
    fake = new FakeTty();
    console_ = new CashierConsole(port, fake.tty, { clock: stillClock });
    done = console_.run();
    await fake.waitFor(/Operator number \(1-4 digits\)/);
    fake.enter('12.5');
    fake.enter('');
    expect(port.operators).toEqual([]);
    fake.enter('3');
    await idle();
    expect(port.operators).toEqual(['03']);
    expect(console_.statusLine()).toMatch(/\| operator 03$/);
  });

  it('refuses a refund and a void to wrong supervisor PINs until it locks, sending nothing', async () => {
    port = new FakePort();
    start();
    await pick('2');
    await fake.waitFor(/Supervisor PIN/);
    fake.enter('0000');
    await fake.waitFor(/Wrong supervisor PIN\. 2 attempt\(s\) left/);
    fake.enter('9999');
    fake.enter('1234');
    await fake.waitFor(/Supervisor PIN LOCKED after repeated wrong PINs\. Try again in 60 s\./);
    expect(fake.screen).not.toMatch(/0000|9999|1234/);
    await pick('3');
    const mark = fake.mark();
    fake.enter('1111');
    await fake.waitFor(/Supervisor PIN LOCKED/, mark);
    expect(port.refunds).toEqual([]);
    expect(port.voided).toEqual([]);
  });

  it('asks the supervisor for a refund without its original even when refunds need no supervisor, and says it is marked', async () => {
    port = new FakePort();
    port.supervisorRequired = false;
    start();
    await pick('2');
    await fake.waitFor(/Amount \(CNY\)/);
    expect(fake.screen).not.toContain('Supervisor PIN');
    fake.enter('3.00');
    await fake.waitFor(/Original sale number/);
    fake.enter('');
    await fake.waitFor(/Refund CNY 3\.00[\s\S]*No original sale: this refund is marked[\s\S]*Supervisor PIN/);
    fake.enter('1111');
    await fake.waitFor(/Enter to refund/);
    fake.enter('');
    await fake.waitFor(/REFUND APPROVED/);
    expect(port.refunds).toEqual([{ amount: 300, originalId: undefined }]);
  });

  it('says NOT COMPLETED for a reader fault, never DECLINED, in both languages, and the customer display follows', async () => {
    port = new FakePort();
    port.next = {
      approved: false,
      notCompleted: true,
      code: 'READER_DISCONNECTED',
      transaction: txn({ state: 'not_completed', declineCode: 'READER_DISCONNECTED', last4: null, authCode: null, rrn: null }),
      printed: false,
    };
    start();
    await idle();
    fake.enter('5.00');
    await fake.waitFor(/NOT COMPLETED: Card reader disconnected[\s\S]*Nothing was charged\./);
    expect(fake.screen).not.toContain('DECLINED');
    expect(port.customer.at(-1)).toEqual(['NOT COMPLETED', 'Not charged']);
    const mark = fake.mark();
    fake.type(' ');
    await idle(mark);
    expect(port.customer.at(-1)).toEqual(['WELCOME']);
    await pick('l');
    await idle(fake.mark() - 200);
    const zh = fake.mark();
    fake.enter('5.00');
    await fake.waitFor(/交易未完成 NOT COMPLETED: 读卡器未连接[\s\S]*类别: 终端[\s\S]*未扣款。/, zh);
    expect(fake.since(zh)).not.toContain('交易拒绝');
    expect(port.customer.at(-1)).toEqual(['交易未完成', '未扣款']);
  });

  it('will not start a sale while the reader is disconnected or the printer is out of paper, and says why', async () => {
    port = new FakePort();
    port.statusValue = { host: 'online', reader: 'disconnected', printer: 'ready', safDepth: 0 };
    start();
    await idle();
    fake.enter('8.00');
    await fake.waitFor(/Cannot start a sale: the card reader is not connected - check its cable/);
    fake.type(' ');
    port.statusValue = { host: 'online', reader: 'connected', printer: 'paper out', safDepth: 0 };
    const mark = fake.mark();
    await idle(mark);
    fake.enter('8.00');
    await fake.waitFor(/Cannot start a sale: the printer is out of paper - load paper/, mark);
    expect(port.sales).toEqual([]);
  });

  it('counts down the seconds while it waits for the card and for the host', async () => {
    port = new FakePort();
    port.holdAtHost = true;
    const clock = new ManualClock(NOW);
    start({ clock });
    await idle();
    fake.enter('9.00');
    await fake.waitFor(/Waiting for host\.\.\. 30 s/);
    clock.advance(1000);
    await fake.waitFor(/Waiting for host\.\.\. 29 s/);
    clock.advance(10_000);
    await fake.waitFor(/Waiting for host\.\.\. 19 s/);
    expect(fake.screen).toMatch(/Waiting for card\.\.\. 30 s/);
    port.answer();
    await fake.waitFor(/APPROVED/);
  });

  it('pages through every match in find, newest first, and reprints one from the second page', async () => {
    port = new FakePort();
    port.txns = Array.from({ length: 12 }, (_, i) => txn({ id: 12 - i, amount: 700, rrn: null, authCode: null }));
    start();
    await pick('5');
    await fake.waitFor(/\[1\] Amount/);
    fake.type('1');
    fake.enter('7.00');
    await fake.waitFor(/page 1[\s\S]*\[9\] #4 [\s\S]*\[n\] next page/);
    expect(fake.screen).not.toContain('#3 ');
    const mark = fake.mark();
    fake.type('n');
    await fake.waitFor(/page 2[\s\S]*\[3\] #1 [\s\S]*\[p\] previous page/, mark);
    expect(fake.since(mark)).not.toContain('[n]');
    fake.type('3');
    await fake.waitFor(/Receipt printed\./, mark);
    expect(port.reprinted).toEqual([1]);
  });

  it('says in Chinese why a payment cannot be voided, with no internal state name', async () => {
    port = new FakePort();
    port.txns = [txn({ id: 4, state: 'declined', declineCode: '51' })];
    port.notVoidable = 'it is declined; only sales approved online can be voided';
    start();
    await pick('l');
    await idle(fake.mark() - 200);
    await pick('3');
    await fake.waitFor(/请输入主管密码/);
    fake.enter('1111');
    await fake.waitFor(/要撤销的交易号/);
    fake.enter('4');
    await fake.waitFor(/撤销 ¥12\.34： ?#4 .*消费 {2}¥12\.34 {2}拒绝[\s\S]*此交易不能撤销: 此交易拒绝，只有联机成功的消费才能撤销/);
    expect(fake.screen).not.toMatch(/declined/);
  });

  it('shows the X report of the open batch, which closes nothing, and the last settlement saying it was a catch-up for its day', async () => {
    port = new FakePort();
    start();
    await pick('7');
    await fake.waitFor(/X report[\s\S]*Batch 000003, open since 2026-11-23 13:30:00/);
    await fake.waitFor(
      /Sales {6}\s+4 {2}\s+CNY 100\.00[\s\S]*Refunds\s+1\s+CNY -15\.00[\s\S]*Voids\s+1\s+CNY 9\.00[\s\S]*Net\s+5\s+CNY 85\.00/,
    );
    await fake.waitFor(/2 offline sale\(s\) not yet accepted by the host[\s\S]*Nothing is closed or sent by this report\./);
    fake.type(' ');
    await pick('8');
    await fake.waitFor(/No batch has been settled yet\./);
    fake.type(' ');
    port.reports = {
      ...port.reports,
      last: {
        batchNumber: 2,
        closedAt: NOW - 7_200_000,
        inBalance: true,
        totals: { salesCount: 3, salesAmount: 4_500, refundsCount: 0, refundsAmount: 0 },
        catchUpFor: new Date(2026, 10, 22, 23, 30).getTime(),
      },
    };
    await pick('l');
    await idle(fake.mark() - 200);
    await pick('8');
    await fake.waitFor(
      /批次号 000002, 结算于 2026-11-23 12:30:00[\s\S]*补结算 \(结算时终端未开机\)，结算日期 2026-11-22[\s\S]*消费\s+3\s+¥45\.00[\s\S]*对账平/,
    );
  });

  it('says why an amount is refused in money and in the cashier language, never in minor units', async () => {
    port = new FakePort();
    start();
    await idle();
    fake.enter('0');
    await fake.waitFor(/Not valid: the amount must be more than zero/);
    await pick('l');
    const mark = fake.mark();
    await idle(mark - 200);
    fake.enter('0');
    fake.enter('12.345');
    fake.enter('100000.01');
    await fake.waitFor(/输入无效: 金额必须大于零[\s\S]*输入无效: CNY 金额最多 2 位小数[\s\S]*输入无效: 超过终端单笔限额 ¥100000\.00/, mark);
    expect(fake.screen).not.toContain('minor units');
    expect(port.sales).toEqual([]);
  });

  it('asks the devices for their status while the idle screen waits, and not while a payment runs', async () => {
    port = new FakePort();
    port.holdAtHost = true;
    const clock = new ManualClock(NOW);
    start({ clock, refreshMs: 1000, devicePollMs: 5000 });
    await idle();
    clock.advance(5000);
    expect(port.polls).toBe(1);
    clock.advance(5000);
    expect(port.polls).toBe(2);
    fake.enter('9.00');
    await fake.waitFor(/Waiting for host/);
    clock.advance(20_000);
    expect(port.polls).toBe(2);
    port.answer();
    await fake.waitFor(/APPROVED/);
  });
});
