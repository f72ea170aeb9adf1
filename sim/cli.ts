import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { Simulator } from './index.js';
import { HOST_COMMAND_USAGE, runHostCommand } from './host/commands.js';
import { LedgerFileError } from './host/host-sim.js';
import { SocatMissingError } from './pty.js';
import { applyPrinterFault } from './printer/faults.js';
import { applyBehaviour, BEHAVIOUR_OPTIONS, BEHAVIOUR_USAGE, SimFlagError } from './options.js';

const USAGE = `usage: npm run sim -- [--dir DIR] [--host-port PORT] [--ledger-file F] [--json] [behaviour flags]

Starts the simulated card reader and printer on pseudo-terminals and the acquirer host on
loopback TCP, prints where they are, and runs until Ctrl-C.
  --dir DIR        folder for the device links (a fresh temporary one by default)
  --host-port PORT the host listens on this port (a free one by default)
  --ledger-file F  the host keeps its ledger (JSON) in F, rewritten after every request, for
                   npm run reconcile; an existing F is read first, so earlier postings are kept
  --json           print the endpoints as one JSON line (for scripts), then one JSON line per
                   printed slip ({"receipt": text}) and per command answer ({"reply": text})
While it runs, type a command and Enter: a printer fault (e.g. "paper-out", then "paper-in"), or
${HOST_COMMAND_USAGE}.
\`npm start\` takes every behaviour flag below with a "sim-" prefix (e.g. npm start -- --sim-decline 51).

${BEHAVIOUR_USAGE}`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      'host-port': { type: 'string' },
      'ledger-file': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
      ...BEHAVIOUR_OPTIONS,
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
  try {
    await applyBehaviour(sim, values);
  } catch (err) {
    if (!(err instanceof SimFlagError)) throw err;
    process.stderr.write(`${err.message}\n`);
    await sim.stop();
    return 2;
  }
  if (values['ledger-file']) sim.host.writeLedger(values['ledger-file']);
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
        `  POS_READER_PATH=${ep.readerPath} POS_PRINTER_PATH=${ep.printerPath} POS_HOST_PORT=${ep.hostPort} POS_TMS_URL=${ep.tmsUrl} npm start`,
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
