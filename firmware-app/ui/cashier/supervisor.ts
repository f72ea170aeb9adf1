import type { LoginResult } from '../diagnostics/pin.js';
import type { Tty } from '../tty.js';
import { t, type Language } from './strings.js';

/*
 * Who is at the counter: the operator signed in, and the supervisor whose PIN lets a refund or void through.
 */

/**
 * Asks for the supervisor PIN until it is right, the cashier backs out (Esc) or the PIN
 * locks; true when the supervisor authorised. Wrong PINs count towards the same kind of
 * lockout as the technician PIN, kept across restarts by the terminal.
 */
export async function askSupervisor(tty: Tty, lang: Language, check: (pin: string) => LoginResult): Promise<boolean> {
  for (;;) {
    const pin = await tty.readLine(t(lang, 'supervisorPrompt'), { mask: true, maxLength: 12 });
    if (pin === null) return false;
    if (pin === '') continue;
    const result = check(pin);
    if (result.ok) return true;
    if (result.reason === 'wrong-pin') {
      tty.line(t(lang, 'supervisorWrong', { attempts: String(result.attemptsLeft) }));
      continue;
    }
    tty.line(
      result.reason === 'locked'
        ? t(lang, 'supervisorLocked', { seconds: String(Math.ceil(result.lockedForMs / 1000)) })
        : t(lang, 'supervisorMissing'),
    );
    return false;
  }
}

/** Asks for the operator number (操作员号, 1-4 digits) until one is typed; `01` for `1`. Null when the input ended. */
export async function askOperator(tty: Tty, lang: Language): Promise<string | null> {
  for (;;) {
    const text = await tty.readLine(t(lang, 'signInPrompt'), { maxLength: 4 });
    if (tty.inputEnded) return null;
    const number = text?.trim() ?? '';
    if (/^\d{1,4}$/.test(number)) return number.padStart(2, '0');
  }
}
