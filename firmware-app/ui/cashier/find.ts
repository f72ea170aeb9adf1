import type { Clock } from '../../../drivers/base/clock.js';
import { parseAmount, type CurrencyCode } from '../../core/money.js';
import type { CashierPort, TxnQuery, TxnView } from '../terminal-port.js';
import { renderMenu, type MenuItem, type Tty } from '../tty.js';
import { t, type Language } from './strings.js';
import { describeTxn } from './words.js';

/** Results per page: one digit picks one. */
export const PAGE_SIZE = 9;

/** Reads the criterion the cashier typed; undefined when it does not parse. */
function buildQuery(key: string, text: string, currency: CurrencyCode, clock: Clock): TxnQuery | undefined {
  switch (key) {
    case '1':
      try {
        return { amount: parseAmount(text, currency) };
      } catch {
        return undefined;
      }
    case '2': {
      const m = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(text);
      if (!m) return undefined;
      const at = (h: string, min: string) => {
        const d = new Date(clock.now());
        d.setHours(Number(h), Number(min), 0, 0);
        return d.getTime();
      };
      return { from: at(m[1]!, m[2]!), to: at(m[3]!, m[4]!) + 59_999 };
    }
    case '3':
      return /^\d{4}$/.test(text) ? { last4: text } : undefined;
    case '4':
      return /^[A-Za-z0-9 ]{1,6}$/.test(text) ? { authCode: text.toUpperCase() } : undefined;
    case '5':
      return /^\d{1,12}$/.test(text) ? { rrn: text.padStart(12, '0') } : undefined;
    default:
      return undefined;
  }
}

/** Asks what to find by and the value: the query and the criterion's label, `back` on Esc, `invalid` when the value does not parse. */
export async function askQuery(
  tty: Tty,
  lang: Language,
  currency: CurrencyCode,
  clock: Clock,
): Promise<{ query: TxnQuery; label: string } | 'back' | 'invalid'> {
  const items: MenuItem[] = (['byAmount', 'byTime', 'byLast4', 'byAuth', 'byRrn'] as const).map((k, i) => ({
    key: String(i + 1),
    label: t(lang, k),
  }));
  tty.line(`${t(lang, 'findBy')}:`);
  for (const l of renderMenu(items)) tty.line(l);
  tty.line(`  [Esc] ${t(lang, 'back')}`);
  const key = await tty.choose(items);
  if (key === null) return 'back';
  const label = items.find((i) => i.key === key)?.label ?? '';
  const text = await tty.readLine(`${label} - ${t(lang, 'valuePrompt')}`, { maxLength: 24 });
  if (text === null) return 'back';
  const query = buildQuery(key, text.trim(), currency, clock);
  return query ? { query, label } : 'invalid';
}

/**
 * Pages through every match, newest first, PAGE_SIZE at a time: `n` next page, `p` previous,
 * a digit picks a payment. Resolves with the payment picked, `none` when nothing matched (the
 * screen says so) or `back` when the cashier went back.
 */
export async function pickFromResults(
  tty: Tty,
  lang: Language,
  port: Pick<CashierPort, 'find'>,
  query: TxnQuery,
  redraw: () => void,
): Promise<TxnView | 'none' | 'back'> {
  let page = 0;
  for (;;) {
    // One more than a page tells whether a next page exists without counting the whole journal.
    const found = port.find({ ...query, limit: PAGE_SIZE + 1, offset: page * PAGE_SIZE });
    const shown = found.slice(0, PAGE_SIZE);
    const more = found.length > PAGE_SIZE;
    redraw();
    if (shown.length === 0) {
      tty.line(t(lang, 'noResults'));
      return 'none';
    }
    tty.line(`${t(lang, 'results')} (${t(lang, 'page', { page: String(page + 1) })}):`);
    shown.forEach((x, i) => tty.line(`  [${i + 1}] ${describeTxn(lang, x)}`));
    const nav: MenuItem[] = [];
    if (more) nav.push({ key: 'n', label: t(lang, 'nextPage') });
    if (page > 0) nav.push({ key: 'p', label: t(lang, 'prevPage') });
    for (const l of renderMenu(nav)) tty.line(l);
    tty.line();
    tty.line(t(lang, 'pickResult'));
    const pick = await tty.choose([...shown.map((_, i) => ({ key: String(i + 1), label: '' })), ...nav]);
    if (pick === null) return 'back';
    if (pick === 'n') page++;
    else if (pick === 'p') page--;
    else return shown[Number(pick) - 1] ?? 'back';
  }
}
