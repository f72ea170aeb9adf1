import { afterEach, describe, expect, it } from 'vitest';
import { CashierConsole, type CashierOptions } from '../../firmware-app/ui/cashier/console.js';
import { FakePort, NOW, stillClock } from '../support/fake-cashier-port.js';
import { FakeTty } from '../support/fake-tty.js';
import { ManualClock } from '../support/manual-clock.js';

/**
 * The idle screen and leaving the console: amount entry at idle, the result hold, and no key
 * at the counter that quits.
 */
describe('cashier console idle screen', () => {
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

  it('stays open on Esc and q, at the idle screen and in the menu: nothing at the counter quits', async () => {
    port = new FakePort();
    let ended = false;
    start();
    // Settles either way (the input's end in afterEach rejects it): a derived promise left
    // without a rejection handler would be an unhandled rejection.
    done.then(
      () => (ended = true),
      () => (ended = true),
    );
    await idle();
    // Esc clears what was typed; q is not an amount key.
    fake.type('5');
    fake.type('\x1b');
    await fake.waitFor(/5\x08 \x08/);
    fake.type('q');
    fake.enter('12.34');
    await fake.waitFor(/APPROVED/);
    expect(port.sales).toEqual([1234]);
    await menu();
    expect(fake.screen).not.toMatch(/\[q\]/);
    fake.type('q');
    const mark = fake.mark();
    fake.type('\x1b');
    await idle(mark);
    expect(ended).toBe(false);
    expect(fake.screen).not.toContain('Goodbye.');
  });

  it('goes back to the idle screen by itself once the result was shown for ui.resultHoldMs', async () => {
    port = new FakePort();
    const clock = new ManualClock(NOW);
    start({ clock, resultHoldMs: 3000 });
    await idle();
    fake.enter('12.34');
    await fake.waitFor(/APPROVED[\s\S]*Back to amount entry in 3 s, or press a key\./);
    const mark = fake.mark();
    clock.advance(2999);
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.since(mark)).not.toMatch(/Sale amount/);
    clock.advance(1);
    await idle(mark);
  });

  it('hands a key pressed while the result is shown to the idle screen: the next amount loses no digit', async () => {
    port = new FakePort();
    start();
    await idle();
    fake.enter('12.34');
    await fake.waitFor(/Back to amount entry in 5 s/);
    fake.enter('7.50');
    await fake.waitFor(/CNY 7\.50/);
    expect(port.sales).toEqual([1234, 750]);
  });

  it('fails when its input ends, so the process exits non-zero and is restarted', async () => {
    port = new FakePort();
    start();
    await idle();
    fake.end();
    await expect(done).rejects.toMatchObject({ code: 'UI_CONSOLE_ENDED' });
  });

  it('ends when the technician shuts the terminal down from the technician menu', async () => {
    port = new FakePort();
    start({ openDiagnostics: () => Promise.resolve('shutdown') });
    await menu();
    await fake.waitFor(/\[t\] Technician menu/);
    fake.type('t');
    await expect(done).resolves.toBe('shutdown');
    expect(fake.screen).toContain('Goodbye.');
  });
});
