import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Simulator } from './index.js';
import { applyBehaviour, BEHAVIOUR_OPTIONS, BEHAVIOUR_USAGE, type BehaviourValues } from './options.js';
import { socatAvailable, SocatMissingError } from './pty.js';

/**
 * The simulator as `npm start` embeds it. The terminal's entry point imports this module
 * only in simulator mode, so a production start loads nothing from `sim/`.
 */

type Prefixed<T> = { [K in keyof T as `sim-${K & string}`]: T[K] };

/** The behaviour flags with their `sim-` prefix, for the terminal's own parseArgs table. */
export const EMBEDDED_OPTIONS = Object.fromEntries(
  Object.entries(BEHAVIOUR_OPTIONS).map(([name, spec]) => [`sim-${name}`, spec]),
) as Prefixed<typeof BEHAVIOUR_OPTIONS>;

export const EMBEDDED_USAGE = `Simulator behaviour (npm start, embedded simulator): every flag of npm run sim -- --help with a "sim-" prefix, e.g.
  --sim-decline 51   --sim-printer paper-out   --sim-reader-no-card   --sim-card NAME   --sim-host-fault drop
${BEHAVIOUR_USAGE.replace(/--(?=[a-z])/g, '--sim-')}`;

export interface EmbeddedSimulator {
  readerPath: string;
  printerPath: string;
  hostAddress: string;
  hostPort: number;
  tmsUrl: string;
  /** Every slip the simulated printer finishes, decoded to text. */
  onReceipt(listener: (text: string) => void): void;
  stop(): Promise<void>;
}

/** Starts the whole simulator with the given `sim-` flags; throws SocatMissingError or SimFlagError. */
export async function startEmbedded(values: Record<string, unknown>): Promise<EmbeddedSimulator> {
  if (!socatAvailable()) throw new SocatMissingError();
  const behaviour = Object.fromEntries(
    Object.entries(values)
      .filter(([name]) => name.startsWith('sim-'))
      .map(([name, value]) => [name.slice(4), value]),
  ) as BehaviourValues;
  const sim = await Simulator.start({ dir: mkdtempSync(join(tmpdir(), 'pos-sim-')) });
  let cancelTimers: () => void;
  try {
    cancelTimers = await applyBehaviour(sim, behaviour);
  } catch (err) {
    await sim.stop();
    throw err;
  }
  const ep = sim.endpoints;
  return {
    ...ep,
    onReceipt: (listener) => sim.printer.on('receipt', (r: { text: string }) => listener(r.text)),
    stop: async () => {
      cancelTimers();
      await sim.stop();
    },
  };
}
