import { parseArgs } from 'node:util';
import { cardByName, TEST_CARDS } from './cards.js';
import { Simulator } from './index.js';
import { SocatMissingError } from './pty.js';

const USAGE = `usage: npm run sim -- [--dir DIR] [--host-port PORT] [--card NAME] [--decline CODE] [--json]

Starts the simulated card reader and printer on pseudo-terminals and the acquirer host on
loopback TCP, prints where they are, and runs until Ctrl-C.
  --card NAME      card the reader presents by default (${TEST_CARDS.map((c) => c.name).join(', ')})
  --decline CODE   the host declines every sale with this field-39 code
  --json           print the endpoints as one JSON line (for scripts)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      'host-port': { type: 'string' },
      card: { type: 'string' },
      decline: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let sim: Simulator;
  try {
    sim = await Simulator.start({ dir: values.dir, hostPort: values['host-port'] ? Number(values['host-port']) : undefined });
  } catch (err) {
    if (err instanceof SocatMissingError) {
      process.stderr.write(`${err.message}\n`);
      return 3;
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
        'Point a terminal at it, e.g.:',
        `  POS_READER_PATH=${ep.readerPath} POS_PRINTER_PATH=${ep.printerPath} POS_HOST_PORT=${ep.hostPort} npm start -- --config config.json`,
        'Ctrl-C stops it.',
        '',
      ].join('\n'),
    );
  }
  sim.printer.on('receipt', (r: { text: string }) => {
    if (!values.json) process.stdout.write(`\n----- printed -----\n${r.text}\n-------------------\n`);
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
