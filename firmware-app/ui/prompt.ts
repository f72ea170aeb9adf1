import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { isPosError } from '../../drivers/base/errors.js';
import { formatAmount, parseAmount } from '../core/money.js';
import { explain } from '../declines/catalog.js';
import type { SaleProgress } from '../payments/sale.js';
import type { Terminal } from '../terminal.js';
import { t as cashierText } from './cashier/strings.js';

const PROGRESS: Record<SaleProgress, string> = {
  'waiting-for-card': 'Waiting for card...',
  'card-read': 'Card read.',
  'entering-pin': 'Customer entering PIN...',
  'sending-pending-reversal': 'Sending pending reversal...',
  'waiting-for-host': 'Waiting for host...',
  done: '',
};

/**
 * The minimal cashier prompt: type an amount, a sale runs, the result is shown.
 * Works on a TTY and on a pipe (which is how the end-to-end tests drive it).
 */
export async function runPrompt(terminal: Terminal, input: Readable, output: Writable): Promise<void> {
  const currency = terminal.config.terminal.currency;
  const say = (line: string) => output.write(`${line}\n`);
  const rl = createInterface({ input, terminal: false });
  const status = () => {
    const s = terminal.status();
    return `[host ${s.host} | reader ${s.reader} | printer ${s.printer}]`;
  };
  say(`pos-companion ready ${status()}`);
  say(`Enter an amount in ${currency} (e.g. 12.34) to ring up a sale, "status", "settle" (end of day), or "q" to quit.`);
  output.write('> ');
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === 'q' || line === 'quit' || line === 'exit') break;
    if (line === '') {
      output.write('> ');
      continue;
    }
    if (line === 'status') {
      say(status());
      output.write('> ');
      continue;
    }
    if (line === 'settle') {
      say('Settling...');
      try {
        const run = await terminal.settle();
        const batches = (run.detail?.batches ?? run.detail?.outcomes ?? []) as {
          batchNumber: number;
          result: string;
          reportPrinted: boolean;
        }[];
        for (const b of batches) {
          say(
            `Batch ${String(b.batchNumber).padStart(6, '0')}: ${b.result === 'in_balance' ? 'IN BALANCE, closed' : 'OUT OF BALANCE, kept open'}${b.reportPrinted ? ', report printed' : ''}`,
          );
        }
        if (run.outcome !== 'ok') say(`Settlement not complete: ${run.error ?? run.outcome}`);
      } catch (err) {
        say(`Error: ${isPosError(err) ? err.message : String(err)}`);
      }
      output.write('> ');
      continue;
    }
    try {
      const amount = parseAmount(line, currency);
      say(`Sale ${currency} ${formatAmount(amount, currency)}`);
      const result = await terminal.sale(amount, (p) => {
        if (PROGRESS[p]) say(PROGRESS[p]);
      });
      const t = result.transaction;
      say(
        `${result.message}${t.authCode ? ` auth ${t.authCode}` : ''}${t.rrn ? ` RRN ${t.rrn}` : ''}${t.stan ? ` STAN ${t.stan}` : ''} (transaction ${t.id})`,
      );
      if (result.result !== 'approved' && result.code) say(`What to do: ${explain(result.code).cashierHint}`);
      if (result.retry) say(cashierText(terminal.config.terminal.language, `retry-${result.retry}`));
      if (result.printed) say('Receipt printed.');
      else if (result.printError)
        say(
          `Receipt NOT printed: ${result.printError}${result.receiptQueued ? ' (kept in the print queue; it prints when the printer is ready)' : ''}`,
        );
    } catch (err) {
      say(`Error: ${isPosError(err) ? err.message : String(err)}`);
    }
    output.write('> ');
  }
  rl.close();
}
