import { cardByName, TEST_CARDS } from './cards.js';
import type { Simulator } from './index.js';
import { applyPrinterFault, PRINTER_FAULTS } from './printer/faults.js';
import { applyReaderFaults, READER_FAULT_OPTIONS, READER_FAULT_USAGE, type ReaderFaultValues } from './reader/cli-faults.js';
import { applyTmsOptions, TMS_OPTIONS, TMS_USAGE } from './tms/cli-options.js';

/**
 * How the simulated devices and servers behave, as parseArgs options. `npm run sim` takes
 * them as they are; `npm start` takes them with a `sim-` prefix (`--sim-decline 51`).
 */
export const BEHAVIOUR_OPTIONS = {
  card: { type: 'string' },
  decline: { type: 'string' },
  'host-fault': { type: 'string' },
  'host-delay': { type: 'string' },
  printer: { type: 'string', multiple: true },
  ...READER_FAULT_OPTIONS,
  ...TMS_OPTIONS,
} as const;

export type BehaviourValues = ReaderFaultValues & {
  card?: string;
  decline?: string;
  'host-fault'?: string;
  'host-delay'?: string;
  printer?: string[];
  'tms-down'?: boolean;
  'tms-error'?: string;
  'tms-slow'?: string;
};

const HOST_FAULTS = ['drop', 'close', 'close-mid-frame', 'duplicate', 'garbage'] as const;

export const BEHAVIOUR_USAGE = `Card and acquirer host:
  --card NAME      card the reader presents by default (${TEST_CARDS.map((c) => c.name).join(', ')})
  --decline CODE   the host declines every sale with this field-39 code (e.g. 51)
  --host-fault F   the host mistreats every sale: ${HOST_FAULTS.join(', ')}
                   (drop posts and never answers; see docs/protocols/host-iso8583.md)
  --host-delay MS  the host answers every sale after MS milliseconds
Printer:
  --printer FAULT  start the printer with a fault (repeatable): ${PRINTER_FAULTS.join(', ')}

${READER_FAULT_USAGE}

${TMS_USAGE}`;

/** A simulator flag with a value it cannot use. */
export class SimFlagError extends Error {
  readonly code = 'SIM_BAD_FLAG';
}

/**
 * Applies the behaviour flags to a started simulator; throws SimFlagError (the simulator
 * keeps running, the caller stops it). Returns a function that cancels pending timers.
 */
export async function applyBehaviour(sim: Simulator, values: BehaviourValues): Promise<() => void> {
  if (values.card) {
    let card: ReturnType<typeof cardByName>;
    try {
      card = cardByName(values.card);
    } catch (err) {
      throw new SimFlagError((err as Error).message);
    }
    sim.reader.autoPresent = false;
    const presentAlways = () => sim.reader.presentCard(card.name);
    presentAlways();
    sim.reader.on('card-read', presentAlways);
  }
  if (values.decline !== undefined) {
    if (!/^[0-9A-Z]{2}$/.test(values.decline))
      throw new SimFlagError(`--decline needs a two-character field-39 code, got ${values.decline}`);
    sim.host.defaultAction = { type: 'decline', code: values.decline };
  }
  const fault = values['host-fault'];
  if (fault !== undefined) {
    if (!(HOST_FAULTS as readonly string[]).includes(fault))
      throw new SimFlagError(`unknown --host-fault ${fault}; one of: ${HOST_FAULTS.join(', ')}`);
    sim.host.defaultAction = { type: fault as (typeof HOST_FAULTS)[number] };
  }
  const delay = values['host-delay'];
  if (delay !== undefined) {
    if (!/^\d+$/.test(delay)) throw new SimFlagError(`--host-delay needs a whole number of milliseconds, got ${delay}`);
    sim.host.defaultAction = { type: 'delay', ms: Number(delay), then: sim.host.defaultAction };
  }
  for (const printerFault of values.printer ?? []) {
    try {
      applyPrinterFault(sim.printer, printerFault);
    } catch (err) {
      throw new SimFlagError((err as Error).message);
    }
  }
  try {
    await applyTmsOptions(sim.tms, values);
    return applyReaderFaults(sim.reader, values, { unplug: () => sim.unplugReader(), replug: () => sim.replugReader() });
  } catch (err) {
    throw new SimFlagError((err as Error).message);
  }
}
