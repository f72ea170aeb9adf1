import { parseArgs } from 'node:util';
import { cardByName, TEST_CARDS } from './cards.js';
import { Simulator } from './index.js';
import { HOST_COMMAND_USAGE, runHostCommand } from './host/commands.js';
import { LedgerFileError } from './host/host-sim.js';
import { SocatMissingError } from './pty.js';
import { applyTmsOptions, TMS_OPTIONS, TMS_USAGE, TmsFlagError } from './tms/cli-options.js';
import { applyPrinterFault, PRINTER_FAULTS } from './printer/faults.js';
import { createInterface } from 'node:readline';
import { applyReaderFaults, READER_FAULT_OPTIONS, READER_FAULT_USAGE, ReaderFlagError } from './reader/cli-faults.js';

const USAGE = `usage: npm run sim -- [--dir DIR] [--host-port PORT] [--card NAME] [--decline CODE] [--host-fault F] [--host-delay MS] [--ledger-file F] [--json]

Starts the simulated card reader and printer on pseudo-terminals and the acquirer host on
loopback TCP, prints where they are, and runs until Ctrl-C.
  --card NAME      card the reader presents by default (${TEST_CARDS.map((c) => c.name).join(', ')})
  --decline CODE   the host declines every sale with this field-39 code
  --host-fault F   the host mistreats every sale: drop (posts, never answers), close,
                   close-mid-frame, duplicate or garbage (see docs/protocols/host-iso8583.md)
  --host-delay MS  the host answers every sale after MS milliseconds
  --ledger-file F  the host keeps its ledger (JSON) in F, rewritten after every request, for
                   npm run reconcile; an existing F is read first, so earlier postings are kept
  --json           print the endpoints as one JSON line (for scripts), then one JSON line per
                   printed slip ({"receipt": text}) and per command answer ({"reply": text})
  --printer FAULT  start the printer with a fault (repeatable): ${PRINTER_FAULTS.join(', ')}
While it runs, type a command and Enter: a printer fault (e.g. "paper-out", then "paper-in"), or
${HOST_COMMAND_USAGE}.

${READER_FAULT_USAGE}

${TMS_USAGE}`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      'host-port': { type: 'string' },
      card: { type: 'string' },
      decline: { type: 'string' },
      'host-fault': { type: 'string' },
      'host-delay': { type: 'string' },
      'ledger-file': { type: 'string' },
      printer: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
      ...READER_FAULT_OPTIONS,
      ...TMS_OPTIONS,
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let sim: Simulator;
  try {
    sim = await Simulator.start({
      dir: values.dir,
      hostPort: values['host-port'] ? Number(values['host-port']) : undefined,
      host: values['ledger-file'] ? { ledgerFile: values['ledger-file'] } : undefined,
    });
  } catch (err) {
    if (err instanceof SocatMissingError) {
      process.stderr.write(`${err.message}\n`);
      return 3;
    }
    if (err instanceof LedgerFileError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (values.card) {
    const card = cardByName(values.card);
    sim.reader.autoPresent = false;
    const presentAlways = () => sim.reader.presentCard(card.name);
    presentAlways();
    sim.reader.on('card-read', presentAlways);
  }
  if (values.decline) sim.host.defaultAction = { type: 'decline', code: values.decline };
  try {
    applyReaderFaults(sim.reader, values, { unplug: () => sim.unplugReader(), replug: () => sim.replugReader() });
  } catch (err) {
    if (!(err instanceof ReaderFlagError)) throw err;
    process.stderr.write(`${err.message}\n`);
    await sim.stop();
    return 2;
  }
  try {
    await applyTmsOptions(sim.tms, values);
  } catch (err) {
    if (!(err instanceof TmsFlagError)) throw err;
    process.stderr.write(`${err.message}\n`);
    await sim.stop();
    return 2;
  }
  const fault = values['host-fault'];
  if (fault === 'drop' || fault === 'close' || fault === 'close-mid-frame' || fault === 'duplicate' || fault === 'garbage') {
    sim.host.defaultAction = { type: fault };
  } else if (fault !== undefined) {
    process.stderr.write(`unknown --host-fault ${fault}\n${USAGE}\n`);
    await sim.stop();
    return 2;
  }
  if (values['host-delay']) sim.host.defaultAction = { type: 'delay', ms: Number(values['host-delay']), then: sim.host.defaultAction };
  if (values['ledger-file']) sim.host.writeLedger(values['ledger-file']);
  try {
    for (const fault of values.printer ?? []) applyPrinterFault(sim.printer, fault);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    await sim.stop();
    return 2;
  }
  const say = (text: string) => process.stdout.write(values.json ? `${JSON.stringify({ reply: text })}\n` : `${text}\n`);
  // One command at a time, in the order typed: "host stop" then "host start" must not overlap.
  let commands = Promise.resolve();
  createInterface({ input: process.stdin, terminal: false }).on('line', (line) => {
    if (line.trim() === '') return;
    commands = commands.then(async () => {
      try {
        say((await runHostCommand(sim.host, sim.tms, line)) ?? applyPrinterFault(sim.printer, line));
      } catch (err) {
        say((err as Error).message);
      }
    });
  });
  const ep = sim.endpoints;
  if (values.json) {
    process.stdout.write(`${JSON.stringify(ep)}\n`);
  } else {
    process.stdout.write(
      [
        'pos-companion simulator running',
        `  card reader  ${ep.readerPath}`,
        `  printer      ${ep.printerPath}`,
        `  host         ${ep.hostAddress}:${ep.hostPort}`,
        `  TMS          ${ep.tmsUrl}`,
        'Point a terminal at it, e.g.:',
        `  POS_READER_PATH=${ep.readerPath} POS_PRINTER_PATH=${ep.printerPath} POS_HOST_PORT=${ep.hostPort} POS_TMS_URL=${ep.tmsUrl} npm start -- --config config.json`,
        'Ctrl-C stops it.',
        '',
      ].join('\n'),
    );
  }
  sim.printer.on('receipt', (r: { text: string }) => {
    process.stdout.write(
      values.json ? `${JSON.stringify({ receipt: r.text })}\n` : `\n----- printed -----\n${r.text}\n-------------------\n`,
    );
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sim: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
