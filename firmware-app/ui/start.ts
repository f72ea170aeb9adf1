import type { Readable, Writable } from 'node:stream';
import { systemClock, type Clock } from '../../drivers/base/clock.js';
import type { Config } from '../config/schema.js';
import { ControlServer } from '../control/server.js';
import type { Logger } from '../logging/logger.js';
import { loadOnDemand, onFirstUse } from '../load-on-demand.js';
import { resolveDataPath, type Terminal } from '../terminal.js';
import { hashPin, PinGuard, type LockoutStore } from './diagnostics/pin.js';
import { SUPERVISOR_LOCKOUT } from '../store/lockout.js';
import { runPrompt } from './prompt.js';

/**
 * The exit status after the technician shut the terminal down from the console menu. The
 * shipped unit restarts on any other exit (`Restart=always`) and lists this one in
 * `RestartPreventExitStatus=` and `SuccessExitStatus=`: a deliberate shutdown stays down.
 */
export const EXIT_SHUT_DOWN = 5;

/** The technician PIN of the embedded simulator when no hash is configured (demo and laptop use only). */
export const SIM_DEFAULT_PIN = '0000';

/** The supervisor PIN of the embedded simulator when no hash is configured (demo and laptop use only). */
export const SIM_SUPERVISOR_PIN = '1111';

export function pinGuardFor(config: Config, clock: Clock, store?: LockoutStore): PinGuard {
  const d = config.diagnostics;
  const pinHash = d.pinHash || (config.sim ? hashPin(SIM_DEFAULT_PIN) : '');
  return new PinGuard({ pinHash, maxFailures: d.maxPinFailures, lockoutMs: d.lockoutMs, maxLockoutMs: d.lockoutMaxMs }, clock, store);
}

/** The supervisor PIN of refunds and voids: the technician PIN's lockout rules, its own counts. */
export function supervisorGuardFor(config: Config, clock: Clock, store?: LockoutStore): PinGuard {
  const d = config.diagnostics;
  const pinHash = config.ui.supervisorPinHash || (config.sim ? hashPin(SIM_SUPERVISOR_PIN) : '');
  return new PinGuard({ pinHash, maxFailures: d.maxPinFailures, lockoutMs: d.lockoutMs, maxLockoutMs: d.lockoutMaxMs }, clock, store);
}

/**
 * Runs the user interfaces: the control socket for `npm run diag` and, on a terminal, the
 * cashier console until the technician shuts it down (`shutdown`; a `ConsoleEndedError` when
 * its input ends), or on a pipe the line-mode prompt scripts use until the pipe ends (`ended`).
 */
export async function runUi(
  terminal: Terminal,
  io: { input: Readable & { isTTY?: boolean }; output: Writable; logger: Logger; clock?: Clock },
): Promise<'shutdown' | 'ended'> {
  const config = terminal.config;
  const clock = io.clock ?? systemClock;
  const supervisor = supervisorGuardFor(config, clock, terminal.lockout(SUPERVISOR_LOCKOUT));
  const guard = pinGuardFor(config, clock, terminal.lockout());
  const startedAt = clock.now();
  // The port the console and the technician's sessions call, loaded when the first of them
  // opens: on a pipe with no technician connected, the line prompt needs neither.
  const technicianPort = onFirstUse('the cashier and technician screens', async () => {
    const [{ TerminalAdapter }, { LocalDiagnosticsSession }] = await Promise.all([
      import('./terminal-adapter.js'),
      import('./diagnostics/session.js'),
    ]);
    const adapter = new TerminalAdapter(terminal, { clock, logger: io.logger, supervisor, startedAt });
    return { adapter, openSession: (actor: string) => new LocalDiagnosticsSession(adapter, guard, actor) };
  });
  const openSession = async (actor: string) => (await technicianPort()).openSession(actor);
  let control: ControlServer | undefined;
  if (config.diagnostics.controlSocket) {
    control = new ControlServer(resolveDataPath(config, config.diagnostics.controlSocket), {
      openSession,
      logger: io.logger.child('control'),
    });
    await control.start().catch((err: unknown) => {
      io.logger.warn({ err }, 'control socket not available; npm run diag will not reach this terminal');
      control = undefined;
    });
  }
  try {
    if (io.input.isTTY) {
      // Loaded only on a terminal: on a pipe the line prompt runs and the console is never drawn.
      const [{ CashierConsole }, { Tty }] = await loadOnDemand('the cashier console', () =>
        Promise.all([import('./cashier/console.js'), import('./tty.js')]),
      );
      const { adapter, openSession: openConsoleSession } = await technicianPort();
      const tty = new Tty(io.input, io.output);
      try {
        return await new CashierConsole(adapter, tty, {
          clock,
          resultHoldMs: config.ui.resultHoldMs,
          openDiagnostics: async (t, header, language) => {
            const { runDiagnosticsMenu } = await loadOnDemand('the technician menu', () => import('./diagnostics/menu.js'));
            const session = openConsoleSession('console');
            return runDiagnosticsMenu(session, t, { clock, language, header, shutDown: () => session.shutDown() });
          },
        }).run();
      } finally {
        tty.close();
      }
    }
    await runPrompt(terminal, io.input, io.output);
    return 'ended';
  } finally {
    await control?.stop();
  }
}
