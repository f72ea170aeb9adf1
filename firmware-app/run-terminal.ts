/**
 * The terminal process behind the entry point (`main.ts`): command line, configuration,
 * composition, signals, console. Loaded by `main.ts` once the compile cache is on.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors.js';
import { loadConfigRemembered } from './config/validated-cache.js';
import type { Config } from './config/schema.js';
import { isPosError } from '../drivers/base/errors.js';
import { createLogger, type Logger } from './logging/logger.js';
import { compose, type App } from './compose.js';
import { resolveDataPath } from './terminal.js';
import { EXIT_SHUT_DOWN, runUi } from './ui/start.js';
import { loadOnDemand } from './load-on-demand.js';
import { holdDataLock, withDataLock } from './store/data-lock.js';
import { exitStatusFor, preflightDataDir, startupStorageFault } from './startup-fault.js';
import { cacheDir, flushCompileCache } from './compile-cache.js';

const USAGE = `usage: pos-companion [--config FILE] [--sim] [--check-config] [--ready-file FILE]

  --config FILE    configuration (JSON); without it the terminal runs against the embedded simulator
  --sim            start the embedded simulator and point every device at it
  --sim-FLAG ...   simulator behaviour (e.g. --sim-decline 51, --sim-printer paper-out); implies --sim, see --help without --config
  --check-config   validate the configuration and exit
  --ready-file FILE  written (with the process id) once the terminal is ready, removed at shutdown
  --restore-backup FILE  check a backup and put it in place of the database, then exit (terminal stopped)
  Environment: POS_<SECTION>_<KEY> overrides a key, e.g. POS_HOST_RESPONSE_TIMEOUT_MS=5000`;

type EmbeddedModule = typeof import('../sim/embedded.js');

/** What the entry point did before loading this module. */
export interface StartInfo {
  /** The compile cache's state, for the ready log line. */
  compileCache: string;
}

const MAIN_OPTIONS = {
  config: { type: 'string' },
  sim: { type: 'boolean' },
  'check-config': { type: 'boolean' },
  help: { type: 'boolean' },
  'ready-file': { type: 'string' },
  'restore-backup': { type: 'string' },
} as const;

/** Simulator mode is asked for on the command line, or implied by the absence of a configuration file. */
function simulatorMayRun(argv: string[]): boolean {
  const hasConfig = argv.some((a) => a === '--config' || a.startsWith('--config='));
  return !hasConfig || argv.some((a) => a === '--sim' || a.startsWith('--sim-'));
}

/** Without a file, the embedded simulator supplies whatever endpoint the environment did not set. */
function endpointsMissing(config: Config): boolean {
  return config.reader.path === '' || config.printer.path === '' || config.host.port === 0 || config.tms.url === '';
}

/**
 * The composition root: the only place that knows every concrete class, and the only
 * place in firmware-app that may import the simulator (for the embedded default).
 */
async function main(argv: string[], started: StartInfo): Promise<number> {
  // Loaded only when a simulator may be wanted, so a production start loads no file of sim/.
  let embedded: EmbeddedModule | undefined = simulatorMayRun(argv) ? await import('../sim/embedded.js') : undefined;
  let args;
  try {
    args = parseArgs({ args: argv, options: { ...MAIN_OPTIONS, ...embedded?.EMBEDDED_OPTIONS } }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n${embedded ? `\n${embedded.EMBEDDED_USAGE}\n` : ''}`);
    return 0;
  }
  let config: Config;
  try {
    // --check-config always validates in full; a start may take the remembered result for unchanged inputs.
    config = args['check-config']
      ? (await import('./config/load.js')).loadConfig({ file: args.config, env: process.env })
      : await loadConfigRemembered({ file: args.config, env: process.env, cacheDir: join(cacheDir(process.env), 'config') });
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
  const restoreFrom = args['restore-backup'];
  if (restoreFrom) {
    const target = resolveDataPath(config, 'pos-companion.db');
    const { restoreDatabase } = await loadOnDemand('the restore', () => import('./store/restore.js'));
    withDataLock(config.dataDir, () => restoreDatabase(restoreFrom, target));
    process.stdout.write(
      `restored ${restoreFrom} to ${target}; the next start moves the STAN and batch counters past the last ones used\n`,
    );
    return 0;
  }
  // Before the simulator starts, so a refusal leaves nothing running behind it.
  preflightDataDir(config.dataDir);
  const dataLock = holdDataLock(config.dataDir);

  const simFlags = Object.keys(args).some((name) => name.startsWith('sim-'));
  const pointAll = args.sim === true || config.sim || simFlags;
  let sim: Awaited<ReturnType<EmbeddedModule['startEmbedded']>> | undefined;
  if (pointAll || (!args.config && endpointsMissing(config))) {
    embedded ??= await import('../sim/embedded.js');
    try {
      sim = await embedded.startEmbedded(args);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'SIM_SOCAT_MISSING' && code !== 'SIM_BAD_FLAG') throw err;
      process.stderr.write(`pos-companion: ${(err as Error).message}\n`);
      return code === 'SIM_SOCAT_MISSING' ? 3 : 2;
    }
    // With --sim every device points at the simulator; otherwise it fills in what the environment left empty.
    config = {
      ...config,
      sim: true,
      reader: { ...config.reader, path: pointAll || !config.reader.path ? sim.readerPath : config.reader.path },
      printer: { ...config.printer, path: pointAll || !config.printer.path ? sim.printerPath : config.printer.path },
      host: pointAll || config.host.port === 0 ? { ...config.host, address: sim.hostAddress, port: sim.hostPort } : config.host,
      tms: { ...config.tms, url: config.tms.url || sim.tmsUrl },
    };
    sim.onReceipt((text) => {
      process.stdout.write(`\n----- printer (simulated) -----\n${text.replace(/\n+$/, '')}\n-------------------------------\n`);
    });
  }

  let logger: Logger;
  let app: App;
  try {
    logger = createLogger({
      level: config.log.level,
      destination:
        config.log.target === 'file'
          ? { file: resolveDataPath(config, config.log.file), maxBytes: config.log.maxBytes, maxFiles: config.log.maxFiles }
          : config.log.target,
    });
    app = compose(config, { logger });
  } catch (err) {
    // Nothing may outlive a start-up that failed: the simulator's socat processes included.
    await sim?.stop();
    dataLock.release();
    throw startupStorageFault(err, resolveDataPath(config, 'pos-companion.db')) ?? err;
  }
  const readyFile = args['ready-file'];
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    shuttingDown ??= (async () => {
      logger.info({ reason }, 'shutting down');
      if (readyFile) rmSync(readyFile, { force: true });
      await app.stop();
      await sim?.stop();
      dataLock.release();
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
    await app.start();
    logger.info({ sim: config.sim, compileCache: started.compileCache }, 'terminal ready');
    // After the ready line: what this start compiled is kept even if power is lost later.
    setImmediate(flushCompileCache);
    // The service manager's readiness signal (see docs/deploy/pos-companion.service).
    if (readyFile) writeFileSync(readyFile, `${process.pid}\n`);
    // The console ending any other way (its input closed, an error) rejects: a non-zero exit the service restarts.
    const outcome = await runUi(app.terminal, { input: process.stdin, output: process.stdout, logger });
    await shutdown(outcome === 'shutdown' ? 'shut down by technician' : 'input ended');
    return outcome === 'shutdown' ? EXIT_SHUT_DOWN : 0;
  } finally {
    await shutdown('console closed');
  }
}

/** Runs the terminal until it stops, then exits with its status. */
export function runTerminal(argv: string[], started: StartInfo): void {
  main(argv, started).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`pos-companion: ${isPosError(err) ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err)}\n`);
      process.exit(exitStatusFor(err));
    },
  );
}
