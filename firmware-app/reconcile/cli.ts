import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readJournalFile } from '../store/transaction-repo.js';
import { formatMismatch, reconcile, type HostPosting, type JournalRecord, EXIT_USAGE, exitStatus } from './reconcile.js';

const USAGE = `usage: npm run reconcile -- --db FILE --ledger FILE [--terminal ID] [--json]

Compares the terminal's journal (the SQLite database, opened read-only) with the acquirer's
ledger (a JSON file: the simulator writes one with \`npm run sim -- --ledger-file FILE\`; an
acquirer's export needs {"entries": [{terminalId, stan, kind, amount, currency, status}]})
and lists every mismatch by kind: duplicate, missing, extra, different-details, merchant-loss.
Exit status:
  0  clean: every transaction matches the host, no merchant loss
  1  the books differ: a duplicate, missing, extra or different posting (merchant losses may be listed too)
  2  usage or input error (nothing compared)
  3  the books agree, but offline approvals were refused by the host or expired: the merchant's loss
  --terminal ID   terminal id (field 41) whose postings to compare (default TERM0001)
  --json          print the result as JSON`;

function main(argv: string[]): number {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        db: { type: 'string' },
        ledger: { type: 'string' },
        terminal: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.db || !values.ledger) {
    process.stderr.write(`${USAGE}\n`);
    return EXIT_USAGE;
  }
  let journal: JournalRecord[];
  let ledger: HostPosting[];
  try {
    journal = readJournalFile(values.db);
    const parsed = JSON.parse(readFileSync(values.ledger, 'utf8')) as { entries?: HostPosting[] };
    if (!Array.isArray(parsed.entries)) throw new Error(`${values.ledger} has no "entries" array`);
    ledger = parsed.entries;
  } catch (err) {
    process.stderr.write(`reconcile: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const result = reconcile(journal, ledger, (values.terminal ?? 'TERM0001').padEnd(8, ' '));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const summary = Object.entries(result.counts)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${kind} ${n}`)
      .join(', ');
    process.stdout.write(
      `${result.checked} transactions checked against ${result.hostEntries} host entries: ${result.clean ? 'clean' : summary}\n`,
    );
    for (const m of result.mismatches) process.stdout.write(`  ${formatMismatch(m)}\n`);
    for (const [currency, amount] of Object.entries(result.merchantLoss))
      process.stdout.write(`merchant loss: ${amount} minor units of ${currency}\n`);
  }
  return exitStatus(result);
}

process.exitCode = main(process.argv.slice(2));
