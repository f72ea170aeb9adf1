import { systemClock, type Clock, type TimerHandle } from '../../../drivers/base/clock.js';
import { isPosError, PosError } from '../../../drivers/base/errors.js';
import { parseAmount } from '../../core/money.js';
import { REVERSAL_NOTICE } from '../../declines/reversal-notice.js';
import { formatDateTime } from '../format.js';
import type { CashierPort, PaymentResult, Progress, TxnView } from '../terminal-port.js';
import { ansi, renderMenu, type Tty } from '../tty.js';
import { Countdown } from './countdown.js';
import { askQuery, pickFromResults } from './find.js';
import { readIdleAmount } from './idle.js';
import { customerLines, explainDecline, showResult } from './result.js';
import { stateWord, t, type Language, type TextKey } from './strings.js';
import { askOperator, askSupervisor } from './supervisor.js';
import { showLastSettlement, showXReport } from './reports.js';
import { amountProblem, describeTxn, money, paymentRefusal, saleBlocked, voidRefusal } from './words.js';

export interface CashierOptions {
  clock?: Clock;
  /** How often the status line is refreshed. */
  refreshMs?: number;
  /** How often the devices are asked for their status while the idle screen waits (the sale pre-checks read it). */
  devicePollMs?: number;
  /** How long a payment's result stays before the console goes back to the idle screen (ui.resultHoldMs). */
  resultHoldMs?: number;
  /**
   * Opens the technician menu on this same screen, in the console's language; absent when the
   * build has none. It answers `shutdown` when the technician shut the terminal down from it.
   */
  openDiagnostics?: (tty: Tty, header: () => void, language: Language) => Promise<'shutdown' | undefined>;
}

/**
 * The console's keyboard is gone (terminal closed, input ended): nobody can take payments
 * here any more, so the process ends with a failure and the service manager starts it again.
 */
export class ConsoleEndedError extends PosError {
  constructor() {
    super('UI_CONSOLE_ENDED', 'the cashier console input ended');
  }
}

/** The default of ui.resultHoldMs, for a console built without the configuration (tests). */
const DEFAULT_RESULT_HOLD_MS = 5000;

type Action = 'sale' | 'refund' | 'void' | 'reprint' | 'find' | 'decline' | 'xReport' | 'lastSettlement' | 'lang' | 'tech';

const MENU: readonly { key: string; action: Action; text: TextKey }[] = [
  { key: '1', action: 'sale', text: 'sale' },
  { key: '2', action: 'refund', text: 'refund' },
  { key: '3', action: 'void', text: 'void' },
  { key: '4', action: 'reprint', text: 'reprint' },
  { key: '5', action: 'find', text: 'find' },
  { key: '6', action: 'decline', text: 'lastDecline' },
  { key: '7', action: 'xReport', text: 'xReport' },
  { key: '8', action: 'lastSettlement', text: 'lastSettlement' },
  { key: 'l', action: 'lang', text: 'language' },
  { key: 't', action: 'tech', text: 'technician' },
];

/**
 * The cashier console: a status line with the date and time pinned to the top row (a scroll
 * region keeps it there whatever the screen below does). The operator signs in with their
 * number first. Its idle screen is amount entry, as on a counter terminal; every other task is
 * in the menu behind F1 (or `m`), and a result goes back to the idle screen by itself. No key
 * at the counter leaves it: only the technician menu (behind its PIN) shuts the terminal down.
 */
export class CashierConsole {
  private lang: Language;
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private lastStatus = '';
  private running = false;
  private operator = '';
  private atIdle = false;
  private lastPoll = 0;
  private readonly countdown: Countdown;

  constructor(
    private readonly port: CashierPort,
    private readonly tty: Tty,
    private readonly options: CashierOptions = {},
  ) {
    this.lang = port.language;
    this.clock = options.clock ?? systemClock;
    this.countdown = new Countdown(tty, this.clock, () => this.lang);
  }

  get language(): Language {
    return this.lang;
  }

  /** Runs until the technician shuts the terminal down; rejects with `ConsoleEndedError` when the input ends. */
  async run(): Promise<'shutdown'> {
    this.running = true;
    this.scheduleRefresh();
    try {
      await this.signIn();
      for (;;) {
        this.home();
        this.tty.line(this.tr('idleHint'));
        this.tty.line();
        this.atIdle = true;
        const input = await readIdleAmount(this.tty, {
          currency: this.port.currency,
          prompt: this.tr('idleAmount', { currency: this.port.currency }),
          validate: (amount) => this.port.validateAmount(amount),
          refused: (err, text) => this.amountRefused(err, text),
        });
        this.atIdle = false;
        if (input.kind === 'ended') throw new ConsoleEndedError();
        if (input.kind === 'amount') {
          this.home(this.tr('sale'));
          await this.charge('sale', input.amount);
        } else if ((await this.menu()) === 'shutdown') return 'shutdown';
        if (this.tty.inputEnded) throw new ConsoleEndedError();
      }
    } finally {
      this.running = false;
      if (this.timer) this.clock.clearTimeout(this.timer);
      this.countdown.stop();
      this.tty.write(`${ansi.saveCursor}\x1b[r${ansi.restoreCursor}\n${this.tr('bye')}\n`);
    }
  }

  /** The operator number (操作员号) the payments of this session are journaled and printed with. */
  private async signIn(): Promise<void> {
    this.home(this.tr('signInTitle'));
    const operator = await askOperator(this.tty, this.lang);
    if (operator === null) throw new ConsoleEndedError();
    this.operator = operator;
    this.port.signIn(operator);
  }

  /** The function menu; Esc goes back to the idle screen, as does every task when it is done. */
  private async menu(): Promise<'shutdown' | undefined> {
    this.home(this.tr('menu'));
    const items = MENU.filter((m) => m.action !== 'tech' || this.options.openDiagnostics).map((m) => ({
      key: m.key,
      label: this.tr(m.text),
    }));
    for (const l of renderMenu(items)) this.tty.line(l);
    this.tty.line(`  [Esc] ${this.tr('back')}`);
    this.tty.line();
    this.tty.write(`${this.tr('choose')} `);
    const key = await this.tty.choose(items);
    const action = MENU.find((m) => m.key === key)?.action;
    return action ? this.perform(action) : undefined;
  }

  /** Runs one menu action; `shutdown` when the technician shut the terminal down. */
  private async perform(action: Action): Promise<'shutdown' | undefined> {
    switch (action) {
      case 'sale':
      case 'refund':
        await this.payment(action);
        break;
      case 'void':
        await this.voidOne();
        break;
      case 'reprint':
        await this.reprintLast();
        break;
      case 'find':
        await this.find();
        break;
      case 'decline':
        await this.lastDecline();
        break;
      case 'xReport':
      case 'lastSettlement': {
        this.home(this.tr(action));
        const reports = this.port.batchReports();
        if (action === 'xReport') showXReport(this.tty, this.lang, this.port.currency, reports.current);
        else showLastSettlement(this.tty, this.lang, this.port.currency, reports.last);
        await this.done();
        break;
      }
      case 'lang':
        this.lang = this.lang === 'en' ? 'zh-CN' : 'en';
        this.port.setSlipLanguage(this.lang);
        this.lastStatus = '';
        break;
      case 'tech': {
        const outcome = await this.options.openDiagnostics?.(this.tty, () => this.drawStatus(true), this.lang);
        this.lastStatus = '';
        return outcome;
      }
    }
    return undefined;
  }

  private tr(key: TextKey, vars?: Record<string, string>): string {
    return t(this.lang, key, vars);
  }

  private readonly cash = (amount: number) => money(this.lang, amount, this.port.currency);

  private amountRefused(err: unknown, text: string): string {
    return `${this.tr('invalid')}: ${amountProblem(this.lang, err, text, this.port.currency)}`;
  }

  statusLine(): string {
    const s = this.port.status();
    const w = (state: string) => stateWord(this.lang, state);
    const op = this.operator ? ` | ${this.tr('operator')} ${this.operator}` : '';
    return `${this.tr('host')} ${w(s.host)} | ${this.tr('saf')} ${s.safDepth} | ${this.tr('printer')} ${w(s.printer)} | ${this.tr('reader')} ${w(s.reader)}${op}`;
  }

  private drawStatus(force: boolean): void {
    // To the minute: a redraw a minute, not a second, and the seconds of a counter clock help no one.
    const text = `${this.statusLine()} | ${formatDateTime(this.clock.now()).slice(0, 16)}`;
    if (!force && text === this.lastStatus) return;
    this.lastStatus = text;
    this.tty.write(`${ansi.saveCursor}${ansi.moveTo(1)}${ansi.clearLine}${ansi.inverse(` ${text} `)}${ansi.restoreCursor}`);
  }

  private scheduleRefresh(): void {
    this.timer = this.clock.setTimeout(() => {
      if (!this.running) return;
      // Only at the idle screen: a payment or a print in progress owns the devices.
      if (this.atIdle && this.clock.now() - this.lastPoll >= (this.options.devicePollMs ?? 5000)) {
        this.lastPoll = this.clock.now();
        this.port.pollDevices().catch(() => undefined);
      }
      this.drawStatus(false);
      this.scheduleRefresh();
    }, this.options.refreshMs ?? 1000);
    this.timer.unref?.();
  }

  /** Clears the screen below the status line and shows the title. */
  private home(subtitle?: string): void {
    this.tty.write(`${ansi.clear}\x1b[2;${this.tty.rows}r${ansi.moveTo(2)}`);
    this.drawStatus(true);
    this.tty.line(ansi.bold(`pos-companion - ${this.tr('title')}${subtitle ? ` - ${subtitle}` : ''}`));
    this.tty.line();
  }

  private async done(): Promise<void> {
    this.tty.line();
    this.tty.write(`${this.tr('anyKey')} `);
    await this.tty.pause();
  }

  /**
   * Keeps a payment's result on screen for ui.resultHoldMs, then the idle screen comes back by
   * itself, on the customer display too. A key pressed meanwhile ends the wait and is handed
   * to the idle screen, so the first digit of the next amount is not lost.
   */
  private async hold(): Promise<void> {
    const ms = this.options.resultHoldMs ?? DEFAULT_RESULT_HOLD_MS;
    this.tty.line();
    this.tty.write(`${this.tr('holdHint', { seconds: String(Math.ceil(ms / 1000)) })} `);
    const k = await this.tty.keyWithin(ms, this.clock);
    if (k) this.tty.unread(k);
    this.port.showCustomer(this.tr('customer-idle'));
  }

  private failure(err: unknown): void {
    this.countdown.stop();
    const refusal = paymentRefusal(this.lang, err, this.port.currency);
    const message =
      isPosError(err) && err.code === 'UI_FEATURE_UNAVAILABLE'
        ? this.tr('unavailable')
        : `${this.tr('error')}: ${refusal ?? (isPosError(err) ? err.message : String(err))}`;
    this.tty.line(message);
    // A storage failure after the 0200 left: the payment will be reversed, and says so in the cashier's language.
    if (isPosError(err) && err.details.afterSend === true) this.tty.line(ansi.bold(REVERSAL_NOTICE.pending[this.lang]));
  }

  /** Asks until the amount parses and the terminal accepts it; null when the cashier backs out. */
  private async askAmount(): Promise<number | null> {
    for (;;) {
      const text = await this.tty.readLine(this.tr('amountPrompt', { currency: this.port.currency }), { maxLength: 16 });
      if (text === null) return null;
      if (text.trim() === '') continue;
      try {
        const amount = parseAmount(text, this.port.currency);
        this.port.validateAmount(amount);
        return amount;
      } catch (err) {
        this.tty.line(this.amountRefused(err, text));
      }
    }
  }

  private async payment(kind: 'sale' | 'refund'): Promise<void> {
    this.home(this.tr(kind));
    if (
      kind === 'refund' &&
      this.port.supervisorRequired &&
      !(await askSupervisor(this.tty, this.lang, (p) => this.port.checkSupervisor(p)))
    )
      return;
    const amount = await this.askAmount();
    if (amount === null) return;
    await this.charge(kind, amount, kind === 'refund' && this.port.supervisorRequired);
  }

  /**
   * Asks what a refund needs besides the amount and has it confirmed, runs the payment and holds
   * its result on screen. `authorised`: the supervisor already gave their PIN for this refund.
   */
  private async charge(kind: 'sale' | 'refund', amount: number, authorised = false): Promise<void> {
    const blocked = saleBlocked(this.lang, this.port.status());
    if (blocked !== null) {
      this.tty.line(ansi.bold(`${this.tr('cannotSell')}: ${blocked}`));
      return this.hold();
    }
    let originalId: number | undefined;
    if (kind === 'refund') {
      const text = await this.tty.readLine(this.tr('refundOriginal'), { maxLength: 10 });
      if (text === null) return;
      if (text.trim() !== '') {
        const original = /^\d+$/.test(text.trim()) ? this.port.transaction(Number(text.trim())) : undefined;
        if (!original) {
          this.tty.line(this.tr('invalid'));
          return this.done();
        }
        this.tty.line(`${this.tr('refundOf', { amount: this.cash(amount) })} ${describeTxn(this.lang, original)}`);
        originalId = original.id;
      } else {
        // A refund nobody can check against a sale: always the supervisor's decision, whatever the setting.
        this.tty.line(`${this.tr('refund')} ${this.cash(amount)}`);
        this.tty.line(ansi.bold(this.tr('unreferencedNote')));
        if (!authorised && !(await askSupervisor(this.tty, this.lang, (p) => this.port.checkSupervisor(p)))) return;
      }
      const confirm = await this.tty.readLine(this.tr('refundConfirm'), { maxLength: 1 });
      if (confirm === null) return;
    }
    this.tty.line(`${this.tr(kind)} ${this.cash(amount)}`);
    this.tty.line(this.tr('cancelHint'));
    await this.runPayment((onProgress) =>
      kind === 'sale' ? this.port.sale(amount, onProgress) : this.port.refund(amount, originalId, onProgress),
    );
    return this.hold();
  }

  private async voidOne(): Promise<void> {
    this.home(this.tr('void'));
    if (this.port.supervisorRequired && !(await askSupervisor(this.tty, this.lang, (p) => this.port.checkSupervisor(p)))) return;
    const text = await this.tty.readLine(this.tr('voidPrompt'), { maxLength: 10 });
    if (text === null || text.trim() === '') return;
    const id = Number(text.trim());
    const txn = Number.isSafeInteger(id) && id > 0 ? this.port.transaction(id) : undefined;
    if (!txn) {
      this.tty.line(this.tr('invalid'));
      return this.done();
    }
    // A void cannot be taken back: the cashier sees which payment it is before it goes out,
    // and a payment that cannot be voided is refused before any confirmation is asked.
    this.tty.line(`${this.tr('voidOf', { amount: this.cash(txn.amount) })} ${describeTxn(this.lang, txn)}`);
    const refused = this.port.whyNotVoidable(id);
    if (refused !== null) {
      this.tty.line(ansi.bold(`${this.tr('notVoidable')}: ${voidRefusal(this.lang, refused)}`));
      return this.done();
    }
    const confirm = await this.tty.readLine(this.tr('voidConfirm'), { maxLength: 1 });
    if (confirm === null) return;
    await this.runPayment((onProgress) => this.port.voidTransaction(id, onProgress));
    return this.hold();
  }

  /** One step of a payment on screen: the waits count down the reader's and the host's time. */
  private progress(p: Progress): void {
    if (p === 'done') return;
    if (p === 'waiting-for-card') return this.countdown.start(this.tr(p), this.port.timeouts.cardMs);
    if (p === 'waiting-for-host') return this.countdown.start(this.tr(p), this.port.timeouts.hostMs);
    this.countdown.stop();
    this.tty.line(this.tr(p));
  }

  /** Runs a payment with its progress on screen; Escape asks the reader to cancel, and is refused once the request is out. */
  private async runPayment(start: (onProgress: (p: Progress) => void) => Promise<PaymentResult>): Promise<void> {
    let result: PaymentResult;
    try {
      const work = start((p) => this.progress(p));
      result = await this.tty.whileRunning(work, (k) => {
        if (k.name === 'escape' || (k.ctrl && k.name === 'c')) {
          this.port
            .cancel()
            .then((r) => {
              if (r === 'idle') return;
              this.countdown.stop();
              this.tty.line(r === 'cancelling' ? this.tr('cancelling') : ansi.bold(this.tr('cancelTooLate')));
            })
            .catch(() => undefined);
        }
      });
    } catch (err) {
      this.failure(err);
      return;
    }
    this.countdown.stop();
    showResult(this.tty, this.lang, result);
    const [line1, line2] = customerLines(this.lang, result);
    this.port.showCustomer(line1, line2);
  }

  private async reprintLast(): Promise<void> {
    this.home(this.tr('reprint'));
    const last = this.port.lastTransaction();
    if (!last) {
      this.tty.line(this.tr('noTransaction'));
      return this.done();
    }
    await this.reprint(last);
    return this.done();
  }

  private async reprint(txn: TxnView): Promise<void> {
    this.tty.line(describeTxn(this.lang, txn));
    this.tty.line(this.tr('printing'));
    try {
      const r = await this.port.reprint(txn.id);
      this.tty.line(r.printed ? this.tr('receiptPrinted') : `${this.tr('receiptNotPrinted')}: ${r.error ?? ''}`);
    } catch (err) {
      this.failure(err);
    }
  }

  private async lastDecline(): Promise<void> {
    this.home(this.tr('lastDecline'));
    const txn = this.port.lastDecline();
    if (!txn) {
      this.tty.line(this.tr('noDecline'));
      return this.done();
    }
    this.tty.line(describeTxn(this.lang, txn));
    this.tty.line();
    explainDecline(this.tty, this.lang, txn.declineCode ?? '');
    return this.done();
  }

  private async find(): Promise<void> {
    this.home(this.tr('find'));
    const asked = await askQuery(this.tty, this.lang, this.port.currency, this.clock);
    if (asked === 'back') return;
    if (asked === 'invalid') {
      this.tty.line(this.tr('invalid'));
      return this.done();
    }
    const txn = await pickFromResults(this.tty, this.lang, this.port, asked.query, () => this.home(`${this.tr('find')} - ${asked.label}`));
    if (txn === 'back') return;
    if (txn !== 'none') await this.reprint(txn);
    return this.done();
  }
}
