import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { isPosError } from '../../drivers/base/errors.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { resolveDataPath } from '../terminal.js';
import { t, type Language } from '../ui/cashier/strings.js';
import { runDiagnosticsMenu } from '../ui/diagnostics/menu.js';
import { hashPin } from '../ui/diagnostics/pin.js';
import { Tty } from '../ui/tty.js';
import { RemoteSession } from './client.js';

const USAGE = `usage: npm run diag -- [--config FILE | --socket PATH] [--hash-pin]

  Opens the technician diagnostic menu of the terminal running on this machine, over its
  control socket (diagnostics.controlSocket under dataDir; var/control.sock for npm start).
  --config FILE   the running terminal's configuration, to find its socket
  --socket PATH   the control socket itself
  --hash-pin      read a new technician PIN and print its scrypt hash for diagnostics.pinHash`;

async function readPin(): Promise<string | null> {
  if (process.stdin.isTTY) {
    const tty = new Tty(process.stdin, process.stdout);
    try {
      const first = await tty.readLine('New technician PIN (4-12 digits): ', { mask: true, maxLength: 12 });
      if (first === null) return null;
      const again = await tty.readLine('Repeat it: ', { mask: true, maxLength: 12 });
      if (again !== first) {
        process.stderr.write('The two PINs differ.\n');
        return null;
      }
      return first;
    } finally {
      tty.close();
    }
  }
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return null;
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, socket: { type: 'string' }, 'hash-pin': { type: 'boolean' }, help: { type: 'boolean' } },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args['hash-pin']) {
    const pin = await readPin();
    if (pin === null || !/^\d{4,12}$/.test(pin)) {
      process.stderr.write('diag: a technician PIN is 4 to 12 digits\n');
      return 2;
    }
    process.stdout.write(`${hashPin(pin)}\n`);
    return 0;
  }
  let path = args.socket;
  // The menu speaks the terminal's configured language when the configuration is at hand.
  let language: Language = 'en';
  if (!path) {
    try {
      const config = loadConfig({ file: args.config, env: process.env });
      if (!config.diagnostics.controlSocket) {
        process.stderr.write('diag: the control socket is disabled (diagnostics.controlSocket is empty)\n');
        return 2;
      }
      path = resolveDataPath(config, config.diagnostics.controlSocket);
      language = config.terminal.language;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`diag: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  }
  const session = await RemoteSession.connect(path);
  const tty = new Tty(process.stdin, process.stdout);
  let finished = false;
  // The terminal stopping (or restarting) ends the session; waiting at a menu for it would mislead.
  session.onClose(() => {
    if (finished) return;
    tty.close();
    process.stderr.write('\ndiag: the terminal closed the connection\n');
    process.exit(1);
  });
  try {
    await runDiagnosticsMenu(session, tty, { language, where: t(language, 'tech-remote', { path }) });
  } finally {
    finished = true;
    tty.close();
    session.close();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`diag: ${isPosError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
    process.exit(1);
  },
);
