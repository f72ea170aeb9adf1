import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { formatMismatch, reconcile, type HostPosting, type JournalRecord } from './reconcile.js';

const USAGE = `usage: npm run reconcile -- --db FILE --ledger FILE [--terminal ID] [--json]

Compares the terminal's journal (the SQLite database, opened read-only) with the acquirer's
ledger (a JSON file: the simulator writes one with \`npm run sim -- --ledger-file FILE\`; an
acquirer's export needs {"entries": [{terminalId, stan, kind, amount, currency, status}]})
and lists every mismatch. Exit status: 0 clean, 1 mismatches, 2 usage or input error.
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
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.db || !values.ledger) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let journal: JournalRecord[];
  let ledger: HostPosting[];
  try {
    const db = new Database(values.db, { readonly: true, fileMustExist: true });
    try {
      journal = db.prepare<[], JournalRecord>('SELECT id, type, state, amount, currency, stan FROM transactions ORDER BY id').all();
    } finally {
      db.close();
    }
    const parsed = JSON.parse(readFileSync(values.ledger, 'utf8')) as { entries?: HostPosting[] };
    if (!Array.isArray(parsed.entries)) throw new Error(`${values.ledger} has no "entries" array`);
    ledger = parsed.entries;
  } catch (err) {
    process.stderr.write(`reconcile: ${(err as Error).message}\n`);
    return 2;
  }
  const result = reconcile(journal, ledger, (values.terminal ?? 'TERM0001').padEnd(8, ' '));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(
      `${result.checked} transactions checked against ${ledger.length} host entries: ${result.clean ? 'clean' : `${result.mismatches.length} mismatches`}\n`,
    );
    for (const m of result.mismatches) process.stdout.write(`  ${formatMismatch(m)}\n`);
  }
  return result.clean ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
