import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Simulator } from '../sim/index.js';
import { socatAvailable, SocatMissingError } from '../sim/pty.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { isPosError } from '../drivers/base/errors.js';
import { createLogger } from './logging/logger.js';
import { resolveDataPath, Terminal } from './terminal.js';
import { runPrompt } from './ui/prompt.js';

const USAGE = `usage: pos-companion [--config FILE] [--sim] [--check-config]

  --config FILE    configuration (JSON); without it the terminal runs against the embedded simulator
  --sim            start the embedded simulator and point every device at it
  --check-config   validate the configuration and exit
  Environment: POS_<SECTION>_<KEY> overrides a key, e.g. POS_HOST_RESPONSE_TIMEOUT_MS=5000`;

/**
 * The composition root: the only place that knows every concrete class, and the only
 * place in firmware-app that may import the simulator (for the embedded default).
 */
async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, sim: { type: 'boolean' }, 'check-config': { type: 'boolean' }, help: { type: 'boolean' } },
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig({ file: args.config, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pos-companion: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args['check-config']) {
    process.stdout.write(`configuration ${args.config ?? '(defaults)'} is valid\n`);
    return 0;
  }
  if (!args.config || args.sim) config = { ...config, sim: true };

  let sim: Simulator | undefined;
  if (config.sim) {
    if (!socatAvailable()) {
      process.stderr.write(`pos-companion: ${new SocatMissingError().message}\n`);
      return 3;
    }
    sim = await Simulator.start({ dir: mkdtempSync(join(tmpdir(), 'pos-sim-')) });
    const ep = sim.endpoints;
    config = {
      ...config,
      reader: { ...config.reader, path: ep.readerPath },
      printer: { ...config.printer, path: ep.printerPath },
      host: { ...config.host, address: ep.hostAddress, port: ep.hostPort },
    };
    sim.printer.on('receipt', (r: { text: string }) => {
      process.stdout.write(`\n----- printer (simulated) -----\n${r.text.replace(/\n+$/, '')}\n-------------------------------\n`);
    });
  }

  const logger = createLogger({
    level: config.log.level,
    destination: config.log.target === 'stdout' ? 'stdout' : { file: resolveDataPath(config, config.log.file) },
  });
  const terminal = new Terminal(config, { logger });
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down');
      await terminal.stop();
      await sim?.stop();
      logger.info('stopped');
      logger.flush();
    })();
    return shuttingDown;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void shutdown(signal).then(() => process.exit(0));
    });
  }
  try {
    await terminal.start();
    logger.info({ sim: config.sim }, 'terminal ready');
    await runPrompt(terminal, process.stdin, process.stdout);
  } finally {
    await shutdown('console closed');
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`pos-companion: ${isPosError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
