import { parseAmount, type CurrencyCode } from '../../core/money.js';
import type { Tty } from '../tty.js';

/** What the cashier did at the idle screen. */
export type IdleInput = { kind: 'amount'; amount: number } | { kind: 'menu' } | { kind: 'ended' };

export interface IdleEntry {
  currency: CurrencyCode;
  /** Shown before the amount, e.g. `Sale amount (CNY): `. */
  prompt: string;
  /** Throws when the terminal would refuse the amount (zero, over the limit). */
  validate: (amount: number) => void;
  /** The line that says why a typed amount was refused. */
  refused: (err: unknown, text: string) => string;
}

/** Keys that open the function menu: F1, or `m` on a keyboard without function keys. */
const MENU_KEYS = new Set(['f1', 'm']);

/** Longest amount text the cashier can type (more digits than any terminal limit). */
const MAX_AMOUNT_CHARS = 16;

/**
 * The idle screen's amount entry, as on a counter terminal: the first digit already belongs
 * to the amount (typing `12.34` rings up 12.34), Enter charges it, Esc clears it and
 * Backspace edits it. The menu key opens every other function; other keys do nothing here.
 */
export async function readIdleAmount(tty: Tty, entry: IdleEntry): Promise<IdleInput> {
  let value = '';
  tty.write(entry.prompt);
  for (;;) {
    const k = await tty.nextKey();
    if (k.name === 'eof') return { kind: 'ended' };
    if (!k.ctrl && MENU_KEYS.has(k.name)) return { kind: 'menu' };
    if (k.name === 'escape' || (k.ctrl && k.name === 'c')) {
      tty.write('\b \b'.repeat(value.length));
      value = '';
    } else if (k.name === 'backspace') {
      if (value.length > 0) {
        value = value.slice(0, -1);
        tty.write('\b \b');
      }
    } else if (k.name === 'return' || k.name === 'enter') {
      if (value === '') continue;
      try {
        const amount = parseAmount(value, entry.currency);
        entry.validate(amount);
        tty.write('\n');
        return { kind: 'amount', amount };
      } catch (err) {
        tty.write(`\n${entry.refused(err, value)}\n${entry.prompt}`);
        value = '';
      }
    } else if (k.ch !== undefined && /^[0-9.]$/.test(k.ch) && value.length < MAX_AMOUNT_CHARS) {
      value += k.ch;
      tty.write(k.ch);
    }
  }
}
